using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using ReportRollupTriggers = Steward.Storage.Migrations.ReportRollupTriggers;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: the trigger that keeps run_rollups, latency_rollups and the sessions' totals fires only when an update
    /// changes a column it counts. It fired on every update of a run, so marking a run's evaluation scored (once for every
    /// run scored after delivery), skipped, or asked to cancel took its share out of three tables and put it back, eight
    /// statements under the write lock: replayed with the app's SQLite on a store of 20,800 runs, that one-column update
    /// cost 129-145 µs with its commit and 49-51 µs guarded, the rollups identical. The guard lists exactly the columns the
    /// trigger's body reads, taken from the body itself, so the two cannot drift apart.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261203140000_RunRollupsOnlyWhenCountedColumnsChange")]
    public partial class RunRollupsOnlyWhenCountedColumnsChange : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS rollup_runs_update;");
            migrationBuilder.Sql(Trigger($"WHEN {ReportRollupTriggers.Changed(ReportRollupTriggers.RunShareColumns())} "));
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS rollup_runs_update;");
            migrationBuilder.Sql(Trigger(""));
        }

        private static string Trigger(string when) =>
            $"CREATE TRIGGER rollup_runs_update AFTER UPDATE ON runs {when}BEGIN\n{ReportRollupTriggers.Run("OLD", -1)}{ReportRollupTriggers.Run("NEW", 1)}\nEND;";
    }
}
