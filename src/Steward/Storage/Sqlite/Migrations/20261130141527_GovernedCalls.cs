using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Migrations
{
    /// <inheritdoc />
    public partial class GovernedCalls : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Anomaly",
                table: "runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "EvaluationStatus",
                table: "runs",
                type: "TEXT",
                maxLength: 20,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "FinishReason",
                table: "runs",
                type: "TEXT",
                maxLength: 40,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "PartialAnswer",
                table: "runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Purpose",
                table: "runs",
                type: "TEXT",
                maxLength: 20,
                nullable: false,
                defaultValue: "agent");

            migrationBuilder.AddColumn<bool>(
                name: "UsageEstimated",
                table: "runs",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            // WITHOUT ROWID: the key (run, purpose, order) is the table itself, so storing a run's call writes one B-tree page
            // where a rowid table with a text key and a run index wrote three. Same columns and types as EF's model.
            migrationBuilder.Sql("""
                CREATE TABLE "model_calls" (
                    "RunId" TEXT NOT NULL,
                    "Purpose" TEXT NOT NULL,
                    "Sequence" INTEGER NOT NULL,
                    "Id" TEXT NOT NULL,
                    "PresetName" TEXT NULL,
                    "Provider" TEXT NOT NULL,
                    "Model" TEXT NOT NULL,
                    "ResponseModel" TEXT NULL,
                    "StartedAt" TEXT NOT NULL,
                    "DurationMs" REAL NOT NULL,
                    "TimeToFirstTokenMs" REAL NULL,
                    "InputTokens" INTEGER NOT NULL,
                    "CachedInputTokens" INTEGER NOT NULL,
                    "OutputTokens" INTEGER NOT NULL,
                    "ReasoningTokens" INTEGER NOT NULL,
                    "UsageEstimated" INTEGER NOT NULL,
                    "CostNanoUsd" INTEGER NULL,
                    "SelfHosted" INTEGER NOT NULL,
                    "FromCache" INTEGER NOT NULL,
                    "MaxOutputTokens" INTEGER NULL,
                    "FinishReason" TEXT NULL,
                    "Status" TEXT NOT NULL,
                    "Error" TEXT NULL,
                    "Anomaly" TEXT NULL,
                    "TraceId" TEXT NULL,
                    "SpanId" TEXT NULL,
                    CONSTRAINT "PK_model_calls" PRIMARY KEY ("RunId", "Purpose", "Sequence"),
                    CONSTRAINT "FK_model_calls_runs_RunId" FOREIGN KEY ("RunId") REFERENCES "runs" ("Id") ON DELETE CASCADE
                ) WITHOUT ROWID;
                """);

            migrationBuilder.CreateTable(
                name: "process_leases",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Machine = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    ProcessId = table.Column<int>(type: "INTEGER", nullable: false),
                    StartedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    RenewedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ExpiresAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_process_leases", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_model_calls_Purpose_StartedAt",
                table: "model_calls",
                columns: new[] { "Purpose", "StartedAt" },
                filter: "Purpose = 'judge'");

            // Runs and evaluations stored before calls were recorded get one call each with their totals, so a run's usage
            // and cost are the sum of its calls for old data too, and judge spend shows in the same reports.
            const string NewId = "upper(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' || substr(h, 17, 4) || '-' || substr(h, 21, 12))";
            migrationBuilder.Sql($"""
                WITH r AS MATERIALIZED (SELECT *, hex(randomblob(16)) AS h FROM runs WHERE InputTokens > 0 OR OutputTokens > 0)
                INSERT INTO model_calls (Id, RunId, Sequence, Purpose, PresetName, Provider, Model, StartedAt, DurationMs, TimeToFirstTokenMs,
                    InputTokens, CachedInputTokens, OutputTokens, ReasoningTokens, UsageEstimated, CostNanoUsd, SelfHosted, FromCache, Status, Error, TraceId)
                SELECT {NewId}, r.Id, 1, 'agent', r.PresetName, r.Provider, r.Model, r.StartedAt, COALESCE(r.DurationMs, 0), r.TimeToFirstTokenMs,
                    r.InputTokens, r.CachedInputTokens, r.OutputTokens, r.ReasoningTokens, 0, r.CostNanoUsd, 0, r.FromCache,
                    CASE r.Status WHEN 'Completed' THEN 'Completed' WHEN 'Cancelled' THEN 'Cancelled' ELSE 'Failed' END, r.Error, r.TraceId
                FROM r;
                """);
            migrationBuilder.Sql($"""
                WITH e AS MATERIALIZED (SELECT *, hex(randomblob(16)) AS h FROM evaluations WHERE JudgeProvider IS NOT NULL)
                INSERT INTO model_calls (Id, RunId, Sequence, Purpose, PresetName, Provider, Model, StartedAt, DurationMs,
                    InputTokens, CachedInputTokens, OutputTokens, ReasoningTokens, UsageEstimated, CostNanoUsd, SelfHosted, FromCache, Status)
                SELECT {NewId}, e.RunId, 1, 'judge', e.PresetName, e.JudgeProvider, COALESCE(e.JudgeModel, ''), e.EvaluatedAt, e.DurationMs,
                    e.JudgeInputTokens, e.JudgeCachedInputTokens, e.JudgeOutputTokens, e.JudgeReasoningTokens, 0, e.JudgeCostNanoUsd, e.JudgeSelfHosted, 0, 'Completed'
                FROM e;
                """);
            migrationBuilder.Sql("UPDATE runs SET EvaluationStatus = 'scored' WHERE Id IN (SELECT RunId FROM evaluations);");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "model_calls");

            migrationBuilder.DropTable(
                name: "process_leases");

            migrationBuilder.DropColumn(
                name: "Anomaly",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "EvaluationStatus",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "FinishReason",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "PartialAnswer",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "Purpose",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "UsageEstimated",
                table: "runs");
        }
    }
}
