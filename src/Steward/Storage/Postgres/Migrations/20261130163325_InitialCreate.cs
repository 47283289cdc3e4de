using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class InitialCreate : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "budget_alerts",
                columns: table => new
                {
                    PolicyId = table.Column<string>(type: "text", nullable: false),
                    PeriodStart = table.Column<string>(type: "text", nullable: false),
                    Threshold = table.Column<int>(type: "integer", nullable: false),
                    FiredAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_alerts", x => new { x.PolicyId, x.PeriodStart, x.Threshold });
                });

            migrationBuilder.CreateTable(
                name: "budget_counters",
                columns: table => new
                {
                    ScopeKey = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    PeriodStart = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    SpentTokens = table.Column<long>(type: "bigint", nullable: false),
                    SpentNanoUsd = table.Column<long>(type: "bigint", nullable: false),
                    ReservedTokens = table.Column<long>(type: "bigint", nullable: false),
                    ReservedNanoUsd = table.Column<long>(type: "bigint", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_counters", x => new { x.ScopeKey, x.PeriodStart });
                });

            migrationBuilder.CreateTable(
                name: "budget_policies",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Scope = table.Column<string>(type: "text", nullable: false),
                    Agent = table.Column<string>(type: "text", nullable: true),
                    Period = table.Column<string>(type: "text", nullable: false),
                    MaxTokens = table.Column<long>(type: "bigint", nullable: true),
                    MaxNanoUsd = table.Column<long>(type: "bigint", nullable: true),
                    Mode = table.Column<string>(type: "text", nullable: false),
                    Thresholds = table.Column<string>(type: "text", nullable: false),
                    Webhook = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_policies", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "budget_reservations",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    Lines = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    ExpiresAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    Owner = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_reservations", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "evaluation_batches",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Dataset = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: false),
                    PresetName = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Judge = table.Column<string>(type: "text", nullable: true),
                    StartedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    EndedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    Cases = table.Column<int>(type: "integer", nullable: false),
                    Passed = table.Column<int>(type: "integer", nullable: false),
                    Failed = table.Column<int>(type: "integer", nullable: false),
                    MeanScore = table.Column<double>(type: "double precision", nullable: false),
                    CostNanoUsd = table.Column<long>(type: "bigint", nullable: true),
                    JudgeCostNanoUsd = table.Column<long>(type: "bigint", nullable: true),
                    ReportJson = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_evaluation_batches", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "process_leases",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Machine = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    ProcessId = table.Column<int>(type: "integer", nullable: false),
                    StartedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    RenewedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    ExpiresAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_process_leases", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "sessions",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Title = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    PresetName = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_sessions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "messages",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    SessionId = table.Column<Guid>(type: "uuid", nullable: false),
                    RunId = table.Column<Guid>(type: "uuid", nullable: true),
                    Sequence = table.Column<int>(type: "integer", nullable: false),
                    Role = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Content = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_messages", x => x.Id);
                    table.ForeignKey(
                        name: "FK_messages_sessions_SessionId",
                        column: x => x.SessionId,
                        principalTable: "sessions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "runs",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    SessionId = table.Column<Guid>(type: "uuid", nullable: false),
                    PresetName = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    PresetVersion = table.Column<string>(type: "text", nullable: false),
                    Provider = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Model = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Query = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    StartedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    EndedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    DurationMs = table.Column<double>(type: "double precision", nullable: true),
                    TimeToFirstTokenMs = table.Column<double>(type: "double precision", nullable: true),
                    InputTokens = table.Column<long>(type: "bigint", nullable: false),
                    CachedInputTokens = table.Column<long>(type: "bigint", nullable: false),
                    OutputTokens = table.Column<long>(type: "bigint", nullable: false),
                    ReasoningTokens = table.Column<long>(type: "bigint", nullable: false),
                    CostNanoUsd = table.Column<long>(type: "bigint", nullable: true),
                    Error = table.Column<string>(type: "text", nullable: true),
                    ErrorKind = table.Column<string>(type: "text", nullable: true),
                    TraceId = table.Column<string>(type: "text", nullable: true),
                    FromCache = table.Column<bool>(type: "boolean", nullable: false),
                    Purpose = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false, defaultValue: "agent"),
                    UsageEstimated = table.Column<bool>(type: "boolean", nullable: false),
                    FinishReason = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: true),
                    Anomaly = table.Column<string>(type: "text", nullable: true),
                    PartialAnswer = table.Column<string>(type: "text", nullable: true),
                    EvaluationStatus = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    Owner = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_runs", x => x.Id);
                    table.ForeignKey(
                        name: "FK_runs_sessions_SessionId",
                        column: x => x.SessionId,
                        principalTable: "sessions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "evaluations",
                columns: table => new
                {
                    RunId = table.Column<Guid>(type: "uuid", nullable: false),
                    PresetName = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    EvaluatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    Score = table.Column<double>(type: "double precision", nullable: false),
                    Passed = table.Column<bool>(type: "boolean", nullable: false),
                    PassThreshold = table.Column<double>(type: "double precision", nullable: false),
                    DurationMs = table.Column<double>(type: "double precision", nullable: false),
                    JudgeProvider = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    JudgeModel = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    JudgeInputTokens = table.Column<long>(type: "bigint", nullable: false),
                    JudgeCachedInputTokens = table.Column<long>(type: "bigint", nullable: false),
                    JudgeOutputTokens = table.Column<long>(type: "bigint", nullable: false),
                    JudgeReasoningTokens = table.Column<long>(type: "bigint", nullable: false),
                    JudgeCostNanoUsd = table.Column<long>(type: "bigint", nullable: true),
                    JudgeSelfHosted = table.Column<bool>(type: "boolean", nullable: false),
                    Error = table.Column<string>(type: "text", nullable: true),
                    BatchId = table.Column<Guid>(type: "uuid", nullable: true),
                    CaseId = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true)
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
                name: "model_calls",
                columns: table => new
                {
                    RunId = table.Column<Guid>(type: "uuid", nullable: false),
                    Purpose = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Sequence = table.Column<int>(type: "integer", nullable: false),
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    PresetName = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    Provider = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Model = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    ResponseModel = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    StartedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    DurationMs = table.Column<double>(type: "double precision", nullable: false),
                    TimeToFirstTokenMs = table.Column<double>(type: "double precision", nullable: true),
                    InputTokens = table.Column<long>(type: "bigint", nullable: false),
                    CachedInputTokens = table.Column<long>(type: "bigint", nullable: false),
                    OutputTokens = table.Column<long>(type: "bigint", nullable: false),
                    ReasoningTokens = table.Column<long>(type: "bigint", nullable: false),
                    UsageEstimated = table.Column<bool>(type: "boolean", nullable: false),
                    CostNanoUsd = table.Column<long>(type: "bigint", nullable: true),
                    SelfHosted = table.Column<bool>(type: "boolean", nullable: false),
                    FromCache = table.Column<bool>(type: "boolean", nullable: false),
                    MaxOutputTokens = table.Column<int>(type: "integer", nullable: true),
                    FinishReason = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: true),
                    Status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Error = table.Column<string>(type: "text", nullable: true),
                    Anomaly = table.Column<string>(type: "text", nullable: true),
                    TraceId = table.Column<string>(type: "text", nullable: true),
                    SpanId = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_model_calls", x => new { x.RunId, x.Purpose, x.Sequence });
                    table.ForeignKey(
                        name: "FK_model_calls_runs_RunId",
                        column: x => x.RunId,
                        principalTable: "runs",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "run_citations",
                columns: table => new
                {
                    RunId = table.Column<Guid>(type: "uuid", nullable: false),
                    Number = table.Column<int>(type: "integer", nullable: false),
                    Url = table.Column<string>(type: "text", nullable: false),
                    Title = table.Column<string>(type: "text", nullable: false),
                    Snippet = table.Column<string>(type: "text", nullable: true),
                    Source = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    PublishedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    StartIndex = table.Column<int>(type: "integer", nullable: true),
                    EndIndex = table.Column<int>(type: "integer", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_run_citations", x => new { x.RunId, x.Number });
                    table.ForeignKey(
                        name: "FK_run_citations_runs_RunId",
                        column: x => x.RunId,
                        principalTable: "runs",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "run_events",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    RunId = table.Column<Guid>(type: "uuid", nullable: false),
                    Sequence = table.Column<int>(type: "integer", nullable: false),
                    Stage = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Message = table.Column<string>(type: "text", nullable: false),
                    Timestamp = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_run_events", x => x.Id);
                    table.ForeignKey(
                        name: "FK_run_events_runs_RunId",
                        column: x => x.RunId,
                        principalTable: "runs",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "run_tool_calls",
                columns: table => new
                {
                    RunId = table.Column<Guid>(type: "uuid", nullable: false),
                    Sequence = table.Column<int>(type: "integer", nullable: false),
                    CallId = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Server = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    Arguments = table.Column<string>(type: "text", nullable: true),
                    ResultPreview = table.Column<string>(type: "text", nullable: true),
                    Error = table.Column<string>(type: "text", nullable: true),
                    DurationMs = table.Column<double>(type: "double precision", nullable: true),
                    Approval = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    StartedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_run_tool_calls", x => new { x.RunId, x.Sequence });
                    table.ForeignKey(
                        name: "FK_run_tool_calls_runs_RunId",
                        column: x => x.RunId,
                        principalTable: "runs",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "evaluation_metrics",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    RunId = table.Column<Guid>(type: "uuid", nullable: false),
                    Sequence = table.Column<int>(type: "integer", nullable: false),
                    Name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Evaluator = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Value = table.Column<double>(type: "double precision", nullable: true),
                    NormalizedScore = table.Column<double>(type: "double precision", nullable: true),
                    Weight = table.Column<double>(type: "double precision", nullable: false),
                    Rating = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    Failed = table.Column<bool>(type: "boolean", nullable: false),
                    Reason = table.Column<string>(type: "text", nullable: false),
                    Interpretation = table.Column<string>(type: "text", nullable: true),
                    Diagnostics = table.Column<string>(type: "text", nullable: true)
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
                name: "IX_budget_reservations_ExpiresAt",
                table: "budget_reservations",
                column: "ExpiresAt");

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

            migrationBuilder.CreateIndex(
                name: "IX_messages_SessionId_Sequence",
                table: "messages",
                columns: new[] { "SessionId", "Sequence" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_model_calls_Purpose_StartedAt",
                table: "model_calls",
                columns: new[] { "Purpose", "StartedAt" },
                filter: "\"Purpose\" = 'judge'");

            migrationBuilder.CreateIndex(
                name: "IX_run_events_RunId_Sequence",
                table: "run_events",
                columns: new[] { "RunId", "Sequence" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_runs_PresetName_StartedAt",
                table: "runs",
                columns: new[] { "PresetName", "StartedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_runs_SessionId",
                table: "runs",
                column: "SessionId");

            migrationBuilder.CreateIndex(
                name: "IX_runs_StartedAt",
                table: "runs",
                column: "StartedAt");

            migrationBuilder.CreateIndex(
                name: "IX_runs_Status_DurationMs",
                table: "runs",
                columns: new[] { "Status", "DurationMs" });

            migrationBuilder.CreateIndex(
                name: "IX_sessions_PresetName",
                table: "sessions",
                column: "PresetName");

            migrationBuilder.CreateIndex(
                name: "IX_sessions_UpdatedAt",
                table: "sessions",
                column: "UpdatedAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "budget_alerts");

            migrationBuilder.DropTable(
                name: "budget_counters");

            migrationBuilder.DropTable(
                name: "budget_policies");

            migrationBuilder.DropTable(
                name: "budget_reservations");

            migrationBuilder.DropTable(
                name: "evaluation_batches");

            migrationBuilder.DropTable(
                name: "evaluation_metrics");

            migrationBuilder.DropTable(
                name: "messages");

            migrationBuilder.DropTable(
                name: "model_calls");

            migrationBuilder.DropTable(
                name: "process_leases");

            migrationBuilder.DropTable(
                name: "run_citations");

            migrationBuilder.DropTable(
                name: "run_events");

            migrationBuilder.DropTable(
                name: "run_tool_calls");

            migrationBuilder.DropTable(
                name: "evaluations");

            migrationBuilder.DropTable(
                name: "runs");

            migrationBuilder.DropTable(
                name: "sessions");
        }
    }
}
