using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// The SQLite migration of the same name, for PostgreSQL (same view, same columns): a run's sole call on its row,
    /// every other call in <c>model_call_rows</c>, <c>model_calls</c> a view of both.
    /// </summary>
    public partial class InlineModelCalls : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.RenameTable(
                name: "model_calls",
                newName: "model_call_rows");

            migrationBuilder.AddColumn<double>(
                name: "CallDurationMs",
                table: "runs",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CallError",
                table: "runs",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "CallId",
                table: "runs",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "CallMaxOutputTokens",
                table: "runs",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CallResponseModel",
                table: "runs",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "CallSelfHosted",
                table: "runs",
                type: "boolean",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "CallSequence",
                table: "runs",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CallSpanId",
                table: "runs",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "CallStartedAt",
                table: "runs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CallStatus",
                table: "runs",
                type: "character varying(20)",
                maxLength: 20,
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "CallTimeToFirstTokenMs",
                table: "runs",
                type: "double precision",
                nullable: true);

            migrationBuilder.Sql(Sqlite.Migrations.InlineModelCalls.CreateView);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP VIEW \"model_calls\";");
            migrationBuilder.Sql(Sqlite.Migrations.InlineModelCalls.MoveInlineCallsToRows);

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
