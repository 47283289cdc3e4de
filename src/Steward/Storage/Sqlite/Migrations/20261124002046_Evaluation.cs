using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Migrations
{
    /// <inheritdoc />
    public partial class Evaluation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "evaluation_batches",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Dataset = table.Column<string>(type: "TEXT", maxLength: 400, nullable: false),
                    PresetName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Judge = table.Column<string>(type: "TEXT", nullable: true),
                    StartedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    EndedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Cases = table.Column<int>(type: "INTEGER", nullable: false),
                    Passed = table.Column<int>(type: "INTEGER", nullable: false),
                    Failed = table.Column<int>(type: "INTEGER", nullable: false),
                    MeanScore = table.Column<double>(type: "REAL", nullable: false),
                    CostNanoUsd = table.Column<long>(type: "INTEGER", nullable: true),
                    JudgeCostNanoUsd = table.Column<long>(type: "INTEGER", nullable: true),
                    ReportJson = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_evaluation_batches", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "evaluations",
                columns: table => new
                {
                    RunId = table.Column<Guid>(type: "TEXT", nullable: false),
                    PresetName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    EvaluatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Score = table.Column<double>(type: "REAL", nullable: false),
                    Passed = table.Column<bool>(type: "INTEGER", nullable: false),
                    PassThreshold = table.Column<double>(type: "REAL", nullable: false),
                    DurationMs = table.Column<double>(type: "REAL", nullable: false),
                    JudgeProvider = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    JudgeModel = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    JudgeInputTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    JudgeCachedInputTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    JudgeOutputTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    JudgeReasoningTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    JudgeCostNanoUsd = table.Column<long>(type: "INTEGER", nullable: true),
                    JudgeSelfHosted = table.Column<bool>(type: "INTEGER", nullable: false),
                    Error = table.Column<string>(type: "TEXT", nullable: true),
                    BatchId = table.Column<Guid>(type: "TEXT", nullable: true),
                    CaseId = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_evaluations", x => x.RunId);
                    table.ForeignKey(
                        name: "FK_evaluations_runs_RunId",
                        column: x => x.RunId,
                        principalTable: "runs",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "evaluation_metrics",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    RunId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Sequence = table.Column<int>(type: "INTEGER", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Evaluator = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Value = table.Column<double>(type: "REAL", nullable: true),
                    NormalizedScore = table.Column<double>(type: "REAL", nullable: true),
                    Weight = table.Column<double>(type: "REAL", nullable: false),
                    Rating = table.Column<string>(type: "TEXT", maxLength: 20, nullable: true),
                    Failed = table.Column<bool>(type: "INTEGER", nullable: false),
                    Reason = table.Column<string>(type: "TEXT", nullable: false),
                    Interpretation = table.Column<string>(type: "TEXT", nullable: true),
                    Diagnostics = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_evaluation_metrics", x => x.Id);
                    table.ForeignKey(
                        name: "FK_evaluation_metrics_evaluations_RunId",
                        column: x => x.RunId,
                        principalTable: "evaluations",
                        principalColumn: "RunId",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_evaluation_batches_PresetName_StartedAt",
                table: "evaluation_batches",
                columns: new[] { "PresetName", "StartedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_evaluation_metrics_Name",
                table: "evaluation_metrics",
                column: "Name");

            migrationBuilder.CreateIndex(
                name: "IX_evaluation_metrics_RunId_Sequence",
                table: "evaluation_metrics",
                columns: new[] { "RunId", "Sequence" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_evaluations_BatchId",
                table: "evaluations",
                column: "BatchId");

            migrationBuilder.CreateIndex(
                name: "IX_evaluations_PresetName_EvaluatedAt",
                table: "evaluations",
                columns: new[] { "PresetName", "EvaluatedAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "evaluation_batches");

            migrationBuilder.DropTable(
                name: "evaluation_metrics");

            migrationBuilder.DropTable(
                name: "evaluations");
        }
    }
}
