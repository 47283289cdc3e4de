using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Migrations
{
    /// <inheritdoc />
    public partial class AnalyticsLatencyIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_runs_Status",
                table: "runs");

            migrationBuilder.CreateIndex(
                name: "IX_runs_Status_DurationMs",
                table: "runs",
                columns: new[] { "Status", "DurationMs" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_runs_Status_DurationMs",
                table: "runs");

            migrationBuilder.CreateIndex(
                name: "IX_runs_Status",
                table: "runs",
                column: "Status");
        }
    }
}
