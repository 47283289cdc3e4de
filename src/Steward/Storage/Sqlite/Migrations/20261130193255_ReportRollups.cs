using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class ReportRollups : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_sessions_PresetName",
                table: "sessions");

            migrationBuilder.DropIndex(
                name: "IX_sessions_UpdatedAt",
                table: "sessions");

            migrationBuilder.AddColumn<long>(
                name: "CostNanoUsd",
                table: "sessions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<int>(
                name: "EvalRuns",
                table: "sessions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "FeedbackDown",
                table: "sessions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "FeedbackUp",
                table: "sessions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "PricedRuns",
                table: "sessions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "RunCount",
                table: "sessions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<double>(
                name: "ScoreSum",
                table: "sessions",
                type: "REAL",
                nullable: false,
                defaultValue: 0.0);

            migrationBuilder.AddColumn<int>(
                name: "Scored",
                table: "sessions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<long>(
                name: "Tokens",
                table: "sessions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<int>(
                name: "UnpricedRuns",
                table: "sessions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.CreateTable(
                name: "latency_rollups",
                columns: table => new
                {
                    Day = table.Column<DateTime>(type: "TEXT", nullable: false),
                    PresetName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Bucket = table.Column<int>(type: "INTEGER", nullable: false),
                    Runs = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_latency_rollups", x => new { x.Day, x.PresetName, x.Provider, x.Model, x.Bucket });
                });

            migrationBuilder.CreateTable(
                name: "quality_metric_rollups",
                columns: table => new
                {
                    Hour = table.Column<DateTime>(type: "TEXT", nullable: false),
                    PresetName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Sum = table.Column<double>(type: "REAL", nullable: false),
                    Count = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_quality_metric_rollups", x => new { x.Hour, x.PresetName, x.Provider, x.Model, x.Name });
                });

            migrationBuilder.CreateTable(
                name: "quality_rollups",
                columns: table => new
                {
                    Hour = table.Column<DateTime>(type: "TEXT", nullable: false),
                    PresetName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Evaluations = table.Column<long>(type: "INTEGER", nullable: false),
                    ScoreSum = table.Column<double>(type: "REAL", nullable: false),
                    Passed = table.Column<long>(type: "INTEGER", nullable: false),
                    Errors = table.Column<long>(type: "INTEGER", nullable: false),
                    JudgeCostNanoUsd = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_quality_rollups", x => new { x.Hour, x.PresetName, x.Provider, x.Model });
                });

            migrationBuilder.CreateTable(
                name: "run_rollups",
                columns: table => new
                {
                    Hour = table.Column<DateTime>(type: "TEXT", nullable: false),
                    PresetName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Runs = table.Column<long>(type: "INTEGER", nullable: false),
                    Completed = table.Column<long>(type: "INTEGER", nullable: false),
                    Failed = table.Column<long>(type: "INTEGER", nullable: false),
                    PricedRuns = table.Column<long>(type: "INTEGER", nullable: false),
                    UnpricedRuns = table.Column<long>(type: "INTEGER", nullable: false),
                    CostNanoUsd = table.Column<long>(type: "INTEGER", nullable: false),
                    UncachedInput = table.Column<long>(type: "INTEGER", nullable: false),
                    CachedInput = table.Column<long>(type: "INTEGER", nullable: false),
                    NonReasoningOutput = table.Column<long>(type: "INTEGER", nullable: false),
                    Reasoning = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_run_rollups", x => new { x.Hour, x.PresetName, x.Provider, x.Model });
                });

            migrationBuilder.CreateIndex(
                name: "IX_sessions_CostNanoUsd",
                table: "sessions",
                column: "CostNanoUsd");

            migrationBuilder.CreateIndex(
                name: "IX_sessions_PresetName_UpdatedAt",
                table: "sessions",
                columns: new[] { "PresetName", "UpdatedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_sessions_UpdatedAt_Id",
                table: "sessions",
                columns: new[] { "UpdatedAt", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "latency_rollups");

            migrationBuilder.DropTable(
                name: "quality_metric_rollups");

            migrationBuilder.DropTable(
                name: "quality_rollups");

            migrationBuilder.DropTable(
                name: "run_rollups");

            migrationBuilder.DropIndex(
                name: "IX_sessions_CostNanoUsd",
                table: "sessions");

            migrationBuilder.DropIndex(
                name: "IX_sessions_PresetName_UpdatedAt",
                table: "sessions");

            migrationBuilder.DropIndex(
                name: "IX_sessions_UpdatedAt_Id",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "CostNanoUsd",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "EvalRuns",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "FeedbackDown",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "FeedbackUp",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "PricedRuns",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "RunCount",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "ScoreSum",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "Scored",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "Tokens",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "UnpricedRuns",
                table: "sessions");

            migrationBuilder.CreateIndex(
                name: "IX_sessions_PresetName",
                table: "sessions",
                column: "PresetName");

            migrationBuilder.CreateIndex(
                name: "IX_sessions_UpdatedAt",
                table: "sessions",
                column: "UpdatedAt");
        }
    }
}
