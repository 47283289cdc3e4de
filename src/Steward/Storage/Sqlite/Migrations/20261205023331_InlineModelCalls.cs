using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// A run's sole model call, when it agrees with its run on everything the two share, is kept on the run's row (new
    /// <c>Call…</c> columns) instead of a row of its own; the table of calls becomes <c>model_call_rows</c> (every other
    /// call) and <c>model_calls</c> a view of both, one record per call as before. Each commit of the run writer wrote
    /// ~6 pages of the calls table's B-tree for the ~16 calls it carried (its rightmost leaf, a split, their parent); on
    /// the run's row they cost what their bytes cost. Existing calls stay where they are: the view reads both.
    /// </summary>
    public partial class InlineModelCalls : Migration
    {
        internal const string CallColumns = """
            "RunId", "Purpose", "Sequence", "Id", "PresetName", "Provider", "Model", "ResponseModel", "StartedAt", "DurationMs",
            "TimeToFirstTokenMs", "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "UsageEstimated", "CostNanoUsd",
            "SelfHosted", "FromCache", "MaxOutputTokens", "FinishReason", "Status", "Error", "Anomaly", "TraceId", "SpanId"
            """;

        // A run's inline call, in the order of CallColumns.
        internal const string InlineCallValues = """
            "Id", "Purpose", "CallSequence", "CallId", "PresetName", "Provider", "Model", "CallResponseModel", "CallStartedAt",
            "CallDurationMs", "CallTimeToFirstTokenMs", "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens",
            "UsageEstimated", "CostNanoUsd", "CallSelfHosted", "FromCache", "CallMaxOutputTokens", "FinishReason", "CallStatus",
            "CallError", "Anomaly", "TraceId", "CallSpanId"
            """;

        /// <summary>Both backends' view: a run's inline call, then the rows.</summary>
        internal const string CreateView = $"""
            CREATE VIEW "model_calls" ({CallColumns}) AS
            SELECT {InlineCallValues} FROM "runs" WHERE "CallId" IS NOT NULL
            UNION ALL
            SELECT {CallColumns} FROM "model_call_rows";
            """;

        /// <summary>Both backends' way back: the runs' inline calls become rows again.</summary>
        internal const string MoveInlineCallsToRows = $"""
            INSERT INTO "model_call_rows" ({CallColumns})
            SELECT {InlineCallValues} FROM "runs" WHERE "CallId" IS NOT NULL;
            """;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.RenameTable(
                name: "model_calls",
                newName: "model_call_rows");

            migrationBuilder.AddColumn<double>(
                name: "CallDurationMs",
                table: "runs",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CallError",
                table: "runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "CallId",
                table: "runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "CallMaxOutputTokens",
                table: "runs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CallResponseModel",
                table: "runs",
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "CallSelfHosted",
                table: "runs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "CallSequence",
                table: "runs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CallSpanId",
                table: "runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "CallStartedAt",
                table: "runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CallStatus",
                table: "runs",
                type: "TEXT",
                maxLength: 20,
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "CallTimeToFirstTokenMs",
                table: "runs",
                type: "REAL",
                nullable: true);

            migrationBuilder.Sql(CreateView);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP VIEW \"model_calls\";");
            migrationBuilder.Sql(MoveInlineCallsToRows);

            migrationBuilder.DropColumn(
                name: "CallDurationMs",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallError",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallId",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallMaxOutputTokens",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallResponseModel",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallSelfHosted",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallSequence",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallSpanId",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallStartedAt",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallStatus",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "CallTimeToFirstTokenMs",
                table: "runs");

            migrationBuilder.RenameTable(
                name: "model_call_rows",
                newName: "model_calls");
        }
    }
}
