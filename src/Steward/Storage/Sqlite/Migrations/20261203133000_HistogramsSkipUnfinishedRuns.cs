using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: the histogram trigger on a run's update split in two, so the half that takes away the run's old share
    /// runs only when the run had one. A run is stored as it starts (no duration, no first token yet) and updated once as
    /// it ends, so at that update the old half had nothing to take away, yet SQLite planned and ran its four statements
    /// (two upserts and two DELETE ... IN (SELECT ...) prunes) every time: replayed with the app's SQLite on a store of
    /// 23,600 runs, a run's finishing UPDATE cost the writer 142-170 µs with them and 108-141 µs without, the rollups
    /// identical. That UPDATE is the largest part of the writer's time per run. The two halves touch a bucket's count
    /// by +1 and -1 and prune only rows left at zero, so the order SQLite fires them in does not matter.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261203133000_HistogramsSkipUnfinishedRuns")]
    public partial class HistogramsSkipUnfinishedRuns : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS facet_more_runs_update;");
            migrationBuilder.Sql(Trigger("facet_more_runs_update_add", FacetHistogramQualityRollups.RunsUpdateWhen, FacetHistogramQualityRollups.RunHistograms("NEW", "1")));
            migrationBuilder.Sql(Trigger("facet_more_runs_update_remove",
                $"({FacetHistogramQualityRollups.RunsUpdateWhen}) AND {FacetHistogramQualityRollups.InHistograms("OLD")}", FacetHistogramQualityRollups.RunHistograms("OLD", "-1")));
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS facet_more_runs_update_add; DROP TRIGGER IF EXISTS facet_more_runs_update_remove;");
            migrationBuilder.Sql(Trigger("facet_more_runs_update", FacetHistogramQualityRollups.RunsUpdateWhen,
                FacetHistogramQualityRollups.RunHistograms("OLD", "-1") + FacetHistogramQualityRollups.RunHistograms("NEW", "1")));
        }

        private static string Trigger(string name, string when, string body) => $"CREATE TRIGGER {name} AFTER UPDATE ON runs WHEN {when} BEGIN\n{body}\nEND;";
    }
}
