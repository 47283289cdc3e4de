using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Re-keys the runs' status index (Status, DurationMs) as (Status, StartedAt). Its readers: the sweep (running runs of
    /// gone processes) and Traces' status filter, which counts a status's runs and pages them newest first; Analytics'
    /// latency percentiles, which the duration served, read the latency rollups now. Every run's end moved its entry: to
    /// a leaf picked by its duration (anywhere in the index) under the old key, to the newest end of its status under the
    /// new. In the log of a 64-concurrent soak of bench/Steward.Bench's ungoverned pipeline, pages of this index per commit
    /// of the run writer went from ~12.8 (of ~74) to ~1.5.
    /// </summary>
    public partial class RunsByStatusAndStart : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_runs_Status_DurationMs",
                table: "runs");

            migrationBuilder.CreateIndex(
                name: "IX_runs_Status_StartedAt",
                table: "runs",
                columns: new[] { "Status", "StartedAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_runs_Status_StartedAt",
                table: "runs");

            migrationBuilder.CreateIndex(
                name: "IX_runs_Status_DurationMs",
                table: "runs",
                columns: new[] { "Status", "DurationMs" });
        }
    }
}
