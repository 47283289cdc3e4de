using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: the two triggers that add a finishing run's usage to its facets (a user's and its tags' hours; its
    /// user-tag and tag-tag pairs) fire only for a run that has such a facet. The writer finishes every run with its tokens
    /// and cost, so both ran for every run, each an INSERT ... SELECT over a facet list that is empty for a run with no user
    /// and no tags (the command line's, a gateway key's without a user): replayed with the app's SQLite on a store of 20,800
    /// runs, the finishing UPDATE cost 95 µs with them and 91 µs guarded, as much as a run that used nothing. The pairs need
    /// a tag; the hours a user or a tag. The rollups are what they were.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261203160000_UsageRollupsOnlyForRunsWithFacets")]
    public partial class UsageRollupsOnlyForRunsWithFacets : Migration
    {
        private const string HasTag = "EXISTS (SELECT 1 FROM run_tags t WHERE t.\"RunId\" = NEW.\"Id\")";

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            Replace(migrationBuilder,
                FacetHourRollups.UsageTrigger($" AND (NEW.\"UserId\" IS NOT NULL OR {HasTag})"),
                FacetHistogramQualityRollups.CrossUsageTrigger($" AND {HasTag}"));
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            Replace(migrationBuilder, FacetHourRollups.UsageTrigger(""), FacetHistogramQualityRollups.CrossUsageTrigger(""));
        }

        private static void Replace(MigrationBuilder migrationBuilder, string hours, string pairs)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS facet_hours_runs_usage;");
            migrationBuilder.Sql(hours);
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS facet_more_runs_cross_usage;");
            migrationBuilder.Sql(pairs);
        }
    }
}
