using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class HistoryCoveringIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_sessions_CostNanoUsd",
                table: "sessions");

            migrationBuilder.DropIndex(
                name: "IX_sessions_PresetName_UpdatedAt",
                table: "sessions");

            migrationBuilder.DropIndex(
                name: "IX_sessions_UpdatedAt_Id",
                table: "sessions");

            migrationBuilder.CreateIndex(
                name: "IX_sessions_History",
                table: "sessions",
                columns: new[] { "UpdatedAt", "Id", "RunCount", "EvalRuns", "CostNanoUsd", "Scored", "ScoreSum" });

            migrationBuilder.CreateIndex(
                name: "IX_sessions_History_Agent",
                table: "sessions",
                columns: new[] { "PresetName", "UpdatedAt", "Id", "RunCount", "EvalRuns", "CostNanoUsd", "Scored", "ScoreSum" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_sessions_History",
                table: "sessions");

            migrationBuilder.DropIndex(
                name: "IX_sessions_History_Agent",
                table: "sessions");

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
    }
}
