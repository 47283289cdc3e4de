using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: the runs triggers that keep the per-user and per-tag rollups (histograms, pairs, hourly cost) and the
    /// monthly histograms call their workers only when the run counts in them, as SQLite's triggers do (their WHEN clauses,
    /// migrations HistogramsSkipUnfinishedRuns and UsageRollupsOnlyForRunsWithFacets). A worker called for a run without a
    /// user or tags, or for a run not finished yet (no duration, no first token), wrote nothing, but each call planned and
    /// ran its upsert (and its prune): with the functions' own times (track_functions) over bench/Steward.Bench's
    /// pg-run-ends load, ~220 µs of the ~570 µs the runs triggers took per run, every run without a user or tags. Same
    /// rows written; the tests of the rollups against direct sums cover both stores.
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261204220000_FacetWorkOnlyWhereItCounts")]
    public partial class FacetWorkOnlyWhereItCounts : Migration
    {
        // Whether a run counts in a histogram: a completed run's duration, any run's time to first token.
        private const string Counted = """(({0}."Status" = 'Completed' AND {0}."DurationMs" IS NOT NULL) OR {0}."TimeToFirstTokenMs" IS NOT NULL)""";

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($$"""
                CREATE OR REPLACE FUNCTION steward_runs_facet_more() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE tagged boolean;
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        -- A new run has no tags yet (they follow it): its user's histograms.
                        IF {{F(Counted, "NEW")}} THEN
                            IF NEW."UserId" IS NOT NULL THEN PERFORM steward_facet_histograms(NEW, 1); END IF;
                            PERFORM steward_month_histograms(NEW, 1);
                        END IF;
                    ELSIF TG_OP = 'DELETE' THEN
                        -- Its tags went first (rollup_runs_facets_before_delete), taking their share; its user's share goes here.
                        IF {{F(Counted, "OLD")}} THEN
                            IF OLD."UserId" IS NOT NULL THEN PERFORM steward_facet_histograms(OLD, -1); END IF;
                            PERFORM steward_month_histograms(OLD, -1);
                        END IF;
                    ELSE
                        tagged := EXISTS (SELECT 1 FROM run_tags t WHERE t."RunId" = NEW."Id");
                        IF (OLD."StartedAt", OLD."PresetName", OLD."Provider", OLD."Model", OLD."Status", OLD."DurationMs", OLD."TimeToFirstTokenMs", OLD."UserId")
                            IS DISTINCT FROM (NEW."StartedAt", NEW."PresetName", NEW."Provider", NEW."Model", NEW."Status", NEW."DurationMs", NEW."TimeToFirstTokenMs", NEW."UserId") THEN
                            IF {{F(Counted, "OLD")}} THEN
                                IF OLD."UserId" IS NOT NULL OR tagged THEN PERFORM steward_facet_histograms(OLD, -1); END IF;
                                PERFORM steward_month_histograms(OLD, -1);
                            END IF;
                            IF {{F(Counted, "NEW")}} THEN
                                IF NEW."UserId" IS NOT NULL OR tagged THEN PERFORM steward_facet_histograms(NEW, 1); END IF;
                                PERFORM steward_month_histograms(NEW, 1);
                            END IF;
                        END IF;
                        -- Pairs are a tag with the user or with another tag: an untagged run is in none.
                        IF tagged AND (OLD."StartedAt", OLD."PresetName", OLD."Provider", OLD."Model", OLD."UserId")
                            IS DISTINCT FROM (NEW."StartedAt", NEW."PresetName", NEW."Provider", NEW."Model", NEW."UserId") THEN
                            -- Moved to another day, agent, model or user: its pairs' share moves (and rows left counting nothing go).
                            PERFORM steward_facet_cross(OLD, NULL, -1);
                            PERFORM steward_facet_cross(NEW, NULL, 1);
                        ELSIF tagged AND (OLD."InputTokens", OLD."OutputTokens", OLD."CostNanoUsd") IS DISTINCT FROM (NEW."InputTokens", NEW."OutputTokens", NEW."CostNanoUsd") THEN
                            -- Only used more (the writer finishing it): one upsert of the difference per pair, nothing to prune.
                            PERFORM steward_facet_cross_usage(OLD, NEW);
                        END IF;
                {{FacetHistogramQualityRollups.RunsFacetMoreEnd}}
                """);
            migrationBuilder.Sql($$"""
                CREATE OR REPLACE FUNCTION steward_runs_facet_hours() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE faceted boolean;
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        -- A new run has no tags yet (they follow it): its user's share.
                        IF NEW."UserId" IS NOT NULL THEN PERFORM steward_facet_hour_cost(NEW, NULL, 1); END IF;
                    ELSIF TG_OP = 'DELETE' THEN
                        -- Its tags went first (rollup_runs_facets_before_delete), taking their share; its user's share goes here.
                        IF OLD."UserId" IS NOT NULL THEN PERFORM steward_facet_hour_cost(OLD, NULL, -1); END IF;
                    ELSE
                        faceted := OLD."UserId" IS NOT NULL OR NEW."UserId" IS NOT NULL OR EXISTS (SELECT 1 FROM run_tags t WHERE t."RunId" = NEW."Id");
                        IF faceted AND (OLD."StartedAt", OLD."PresetName", OLD."Provider", OLD."Model", OLD."UserId")
                            IS DISTINCT FROM (NEW."StartedAt", NEW."PresetName", NEW."Provider", NEW."Model", NEW."UserId") THEN
                            -- Moved to another hour, agent, model or user: its whole share moves (and rows left counting nothing go).
                            PERFORM steward_facet_hour_cost(OLD, NULL, -1);
                            PERFORM steward_facet_hour_cost(NEW, NULL, 1);
                        ELSIF faceted AND (OLD."InputTokens", OLD."CachedInputTokens", OLD."OutputTokens", OLD."ReasoningTokens", OLD."CostNanoUsd")
                            IS DISTINCT FROM (NEW."InputTokens", NEW."CachedInputTokens", NEW."OutputTokens", NEW."ReasoningTokens", NEW."CostNanoUsd") THEN
                            -- Only used more (the writer finishing it): one upsert of the difference per facet, nothing to prune.
                            PERFORM steward_facet_hour_usage(OLD, NEW);
                        END IF;
                {{FacetHourRollups.RunsFacetHoursEnd}}
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(FacetHistogramQualityRollups.RunsFacetMoreFunction);
            migrationBuilder.Sql(FacetHourRollups.RunsFacetHoursFunction);
        }

        private static string F(string format, string value) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, value);
    }
}
