using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: the primary keys of the per-user and per-tag histogram and pair rollups carry the counts they sum
    /// (<c>INCLUDE</c>), so a user's or a tag's report reads them by an index-only scan over its own contiguous run of keys.
    /// The rows themselves lie where the triggers first wrote them, day after day among every other user's: one user's
    /// time-to-first-token histogram over 1,000,000 runs touched 5,500 table pages, 150 index pages with the counts in the key.
    /// The upserts' conflict targets are the same key columns, so the triggers are unchanged.
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261201113000_FacetRollupsCoveringKeys")]
    public partial class FacetRollupsCoveringKeys : Migration
    {
        private const string HistogramKey = "\"Facet\", \"Value\", \"Histogram\", \"Day\", \"PresetName\", \"Provider\", \"Model\", \"Bucket\"";

        private const string CrossKey = "\"Facet\", \"Value\", \"ByFacet\", \"ByValue\", \"Day\", \"PresetName\", \"Provider\", \"Model\"";

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"""
                ALTER TABLE facet_histogram_rollups DROP CONSTRAINT "PK_facet_histogram_rollups",
                    ADD CONSTRAINT "PK_facet_histogram_rollups" PRIMARY KEY ({HistogramKey}) INCLUDE ("Runs");
                ALTER TABLE facet_cross_rollups DROP CONSTRAINT "PK_facet_cross_rollups",
                    ADD CONSTRAINT "PK_facet_cross_rollups" PRIMARY KEY ({CrossKey}) INCLUDE ("Runs", "Tokens", "CostNanoUsd", "UnpricedRuns");
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"""
                ALTER TABLE facet_histogram_rollups DROP CONSTRAINT "PK_facet_histogram_rollups",
                    ADD CONSTRAINT "PK_facet_histogram_rollups" PRIMARY KEY ({HistogramKey});
                ALTER TABLE facet_cross_rollups DROP CONSTRAINT "PK_facet_cross_rollups",
                    ADD CONSTRAINT "PK_facet_cross_rollups" PRIMARY KEY ({CrossKey});
                """);
        }
    }
}
