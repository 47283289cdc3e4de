using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: the trigger that keeps run_rollups, latency_rollups and the sessions' totals runs on a run's update only
    /// when a column it counts changes. It ran on every update, so marking a run's evaluation scored (once for every run
    /// scored after delivery), skipped, or asked to cancel took the run's share out of three tables and put it back. The
    /// columns are those <c>steward_rollup_run</c> reads, and the provider and model that move an evaluation's share.
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261203140000_RunRollupsOnlyWhenCountedColumnsChange")]
    public partial class RunRollupsOnlyWhenCountedColumnsChange : Migration
    {
        private static readonly string[] Counted =
            ["StartedAt", "PresetName", "Provider", "Model", "Status", "CostNanoUsd", "InputTokens", "OutputTokens", "CachedInputTokens", "ReasoningTokens", "DurationMs", "Purpose", "SessionId"];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            string Row(string r) => "(" + string.Join(", ", Counted.Select(c => $"{r}.\"{c}\"")) + ")";
            migrationBuilder.Sql($"""
                DROP TRIGGER IF EXISTS rollup_runs ON runs;
                CREATE TRIGGER rollup_runs AFTER INSERT OR DELETE ON runs FOR EACH ROW EXECUTE FUNCTION steward_runs_rollup();
                CREATE TRIGGER rollup_runs_update AFTER UPDATE ON runs FOR EACH ROW WHEN ({Row("OLD")} IS DISTINCT FROM {Row("NEW")})
                    EXECUTE FUNCTION steward_runs_rollup();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS rollup_runs_update ON runs;
                DROP TRIGGER IF EXISTS rollup_runs ON runs;
                CREATE TRIGGER rollup_runs AFTER INSERT OR UPDATE OR DELETE ON runs FOR EACH ROW EXECUTE FUNCTION steward_runs_rollup();
                """);
        }
    }
}
