using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: a user's and a tag's cost and quality by UTC hour (facet_hour_rollups, facet_quality_hour_rollups,
    /// facet_quality_metric_hour_rollups), so a report whose days begin in any whole-hour time zone (Paris, New York, Tokyo)
    /// sums its own days from them instead of reading the user's or tag's raw runs, which the UTC-day facet rollups cannot
    /// split. Kept by triggers in the transaction of every write to runs, run_tags, evaluations and evaluation_metrics, one
    /// upsert per row a write counts in; then filled from the rows already stored (idempotent: it clears them first). The
    /// sums ride in the primary keys (<c>INCLUDE</c>) so one user's hours are read by an index-only scan. Read by raw SQL
    /// only, so the EF model does not hold them.
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261201150000_FacetHourRollups")]
    public partial class FacetHourRollups : Migration
    {
        private const string Hour = "date_trunc('hour', {0}, 'UTC')";

        private const string Key = "\"Facet\", \"Value\", \"Hour\", \"PresetName\", \"Provider\", \"Model\"";

        private const string CostSums = "\"Runs\", \"PricedRuns\", \"UnpricedRuns\", \"CostNanoUsd\", \"UncachedInput\", \"CachedInput\", \"NonReasoningOutput\", \"Reasoning\"";

        private const string CostUpsert = "ON CONFLICT (" + Key + ") DO UPDATE SET \"Runs\" = facet_hour_rollups.\"Runs\" + EXCLUDED.\"Runs\", " +
            "\"PricedRuns\" = facet_hour_rollups.\"PricedRuns\" + EXCLUDED.\"PricedRuns\", \"UnpricedRuns\" = facet_hour_rollups.\"UnpricedRuns\" + EXCLUDED.\"UnpricedRuns\", " +
            "\"CostNanoUsd\" = facet_hour_rollups.\"CostNanoUsd\" + EXCLUDED.\"CostNanoUsd\", \"UncachedInput\" = facet_hour_rollups.\"UncachedInput\" + EXCLUDED.\"UncachedInput\", " +
            "\"CachedInput\" = facet_hour_rollups.\"CachedInput\" + EXCLUDED.\"CachedInput\", " +
            "\"NonReasoningOutput\" = facet_hour_rollups.\"NonReasoningOutput\" + EXCLUDED.\"NonReasoningOutput\", \"Reasoning\" = facet_hour_rollups.\"Reasoning\" + EXCLUDED.\"Reasoning\"";

        private const string QualitySums = "\"Evaluations\", \"ScoreSum\", \"Passed\", \"Errors\", \"JudgeCostNanoUsd\"";

        private const string QualityUpsert = "ON CONFLICT (" + Key + ") DO UPDATE SET \"Evaluations\" = facet_quality_hour_rollups.\"Evaluations\" + EXCLUDED.\"Evaluations\", " +
            "\"ScoreSum\" = facet_quality_hour_rollups.\"ScoreSum\" + EXCLUDED.\"ScoreSum\", \"Passed\" = facet_quality_hour_rollups.\"Passed\" + EXCLUDED.\"Passed\", " +
            "\"Errors\" = facet_quality_hour_rollups.\"Errors\" + EXCLUDED.\"Errors\", " +
            "\"JudgeCostNanoUsd\" = facet_quality_hour_rollups.\"JudgeCostNanoUsd\" + EXCLUDED.\"JudgeCostNanoUsd\"";

        private const string MetricUpsert = "ON CONFLICT (" + Key + ", \"Name\") DO UPDATE SET \"Sum\" = facet_quality_metric_hour_rollups.\"Sum\" + EXCLUDED.\"Sum\", " +
            "\"Count\" = facet_quality_metric_hour_rollups.\"Count\" + EXCLUDED.\"Count\"";

        /// <summary>The facets of run <c>r</c>: its user, each of its tags.</summary>
        private const string RunFacets = """
            SELECT 'user'::text AS facet, r."UserId" AS val WHERE r."UserId" IS NOT NULL
            UNION ALL SELECT 'tag', t."Tag" FROM run_tags t WHERE t."RunId" = r."Id"
            """;

        /// <summary>The facets of evaluation <c>e</c>'s run: <c>user_id</c> and every tag, or only <c>only_tag</c> when given.</summary>
        private const string EvaluationFacets = """
            SELECT 'user'::text AS facet, user_id AS val WHERE user_id IS NOT NULL AND only_tag IS NULL
            UNION ALL SELECT 'tag', t."Tag" FROM run_tags t WHERE t."RunId" = e."RunId" AND only_tag IS NULL
            UNION ALL SELECT 'tag', only_tag WHERE only_tag IS NOT NULL
            """;

        /// <summary>Run <c>r</c>'s cost sums times <c>s</c>.</summary>
        private const string CostShare = """
            s, s * (r."CostNanoUsd" IS NOT NULL)::int, s * (r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0)::int, s * COALESCE(r."CostNanoUsd", 0),
            s * (r."InputTokens" - r."CachedInputTokens"), s * r."CachedInputTokens", s * (r."OutputTokens" - r."ReasoningTokens"), s * r."ReasoningTokens"
            """;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"""
                CREATE TABLE facet_hour_rollups ("Facet" text NOT NULL, "Value" text NOT NULL, "Hour" timestamp with time zone NOT NULL, "PresetName" text NOT NULL,
                    "Provider" text NOT NULL, "Model" text NOT NULL, "Runs" bigint NOT NULL, "PricedRuns" bigint NOT NULL, "UnpricedRuns" bigint NOT NULL,
                    "CostNanoUsd" bigint NOT NULL, "UncachedInput" bigint NOT NULL, "CachedInput" bigint NOT NULL, "NonReasoningOutput" bigint NOT NULL,
                    "Reasoning" bigint NOT NULL,
                    CONSTRAINT "PK_facet_hour_rollups" PRIMARY KEY ({Key}) INCLUDE ({CostSums}));
                CREATE TABLE facet_quality_hour_rollups ("Facet" text NOT NULL, "Value" text NOT NULL, "Hour" timestamp with time zone NOT NULL, "PresetName" text NOT NULL,
                    "Provider" text NOT NULL, "Model" text NOT NULL, "Evaluations" bigint NOT NULL, "ScoreSum" double precision NOT NULL, "Passed" bigint NOT NULL,
                    "Errors" bigint NOT NULL, "JudgeCostNanoUsd" bigint NOT NULL,
                    CONSTRAINT "PK_facet_quality_hour_rollups" PRIMARY KEY ({Key}) INCLUDE ({QualitySums}));
                CREATE TABLE facet_quality_metric_hour_rollups ("Facet" text NOT NULL, "Value" text NOT NULL, "Hour" timestamp with time zone NOT NULL, "PresetName" text NOT NULL,
                    "Provider" text NOT NULL, "Model" text NOT NULL, "Name" text NOT NULL, "Sum" double precision NOT NULL, "Count" bigint NOT NULL,
                    CONSTRAINT "PK_facet_quality_metric_hour_rollups" PRIMARY KEY ({Key}, "Name") INCLUDE ("Sum", "Count"));
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_hour_cost(r runs, only_tag text, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO facet_hour_rollups ({Key}, {CostSums})
                    SELECT d.facet, d.val, {F(Hour, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {CostShare}
                    FROM ({RunFacets}) AS d WHERE only_tag IS NULL OR (d.facet = 'tag' AND d.val = only_tag)
                    {CostUpsert};
                    IF s < 0 THEN
                        DELETE FROM facet_hour_rollups WHERE ("Facet", "Value") IN (SELECT d.facet, d.val FROM ({RunFacets}) AS d
                                WHERE only_tag IS NULL OR (d.facet = 'tag' AND d.val = only_tag))
                            AND "Hour" = {F(Hour, "r.\"StartedAt\"")} AND "PresetName" = r."PresetName" AND "Provider" = r."Provider" AND "Model" = r."Model" AND "Runs" = 0;
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_hour_usage(o runs, r runs) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO facet_hour_rollups ({Key}, {CostSums})
                    SELECT d.facet, d.val, {F(Hour, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", 0,
                        (r."CostNanoUsd" IS NOT NULL)::int - (o."CostNanoUsd" IS NOT NULL)::int,
                        (r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0)::int - (o."CostNanoUsd" IS NULL AND o."InputTokens" + o."OutputTokens" > 0)::int,
                        COALESCE(r."CostNanoUsd", 0) - COALESCE(o."CostNanoUsd", 0),
                        (r."InputTokens" - r."CachedInputTokens") - (o."InputTokens" - o."CachedInputTokens"), r."CachedInputTokens" - o."CachedInputTokens",
                        (r."OutputTokens" - r."ReasoningTokens") - (o."OutputTokens" - o."ReasoningTokens"), r."ReasoningTokens" - o."ReasoningTokens"
                    FROM ({RunFacets}) AS d
                    {CostUpsert};
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_hour_quality(e evaluations, provider text, model text, user_id text, only_tag text, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO facet_quality_hour_rollups ({Key}, {QualitySums})
                    SELECT d.facet, d.val, {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", provider, model, s, s * e."Score", s * e."Passed"::int,
                        s * (e."Error" IS NOT NULL)::int, s * COALESCE(e."JudgeCostNanoUsd", 0)
                    FROM ({EvaluationFacets}) AS d
                    {QualityUpsert};
                    INSERT INTO facet_quality_metric_hour_rollups ({Key}, "Name", "Sum", "Count")
                    SELECT d.facet, d.val, {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", provider, model, m."Name", s * SUM(m."NormalizedScore"), s * COUNT(*)
                    FROM ({EvaluationFacets}) AS d CROSS JOIN evaluation_metrics m WHERE m."RunId" = e."RunId" AND m."NormalizedScore" IS NOT NULL
                    GROUP BY d.facet, d.val, m."Name"
                    {MetricUpsert};
                    IF s < 0 THEN
                        DELETE FROM facet_quality_hour_rollups WHERE ("Facet", "Value") IN ({EvaluationFacets}) AND "Hour" = {F(Hour, "e.\"EvaluatedAt\"")}
                            AND "PresetName" = e."PresetName" AND "Provider" = provider AND "Model" = model AND "Evaluations" = 0;
                        DELETE FROM facet_quality_metric_hour_rollups WHERE ("Facet", "Value") IN ({EvaluationFacets}) AND "Hour" = {F(Hour, "e.\"EvaluatedAt\"")}
                            AND "PresetName" = e."PresetName" AND "Provider" = provider AND "Model" = model AND "Count" = 0;
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_hour_metric(m evaluation_metrics, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    IF m."NormalizedScore" IS NULL THEN
                        RETURN;
                    END IF;
                    INSERT INTO facet_quality_metric_hour_rollups ({Key}, "Name", "Sum", "Count")
                    SELECT d.facet, d.val, {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", m."Name", s * m."NormalizedScore", s
                    FROM evaluations e JOIN runs r ON r."Id" = e."RunId" CROSS JOIN LATERAL ({RunFacets}) AS d WHERE e."RunId" = m."RunId"
                    {MetricUpsert};
                    IF s < 0 THEN
                        DELETE FROM facet_quality_metric_hour_rollups x USING evaluations e JOIN runs r ON r."Id" = e."RunId"
                        WHERE e."RunId" = m."RunId" AND x."Name" = m."Name" AND x."Count" = 0 AND x."Hour" = {F(Hour, "e.\"EvaluatedAt\"")}
                            AND (x."Facet", x."Value") IN ({RunFacets});
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql(RunsFacetHoursFunction);
            migrationBuilder.Sql("""
                -- Only the columns these rollups hold: a run's other updates (status, evaluation state, cancel requests) cost nothing here.
                CREATE TRIGGER rollup_runs_facet_hours AFTER INSERT OR DELETE OR UPDATE OF "StartedAt", "PresetName", "Provider", "Model", "UserId",
                    "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "CostNanoUsd" ON runs FOR EACH ROW EXECUTE FUNCTION steward_runs_facet_hours();
                CREATE FUNCTION steward_facet_hour_tag(tag run_tags, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM steward_facet_hour_cost(r, tag."Tag", s) FROM runs r WHERE r."Id" = tag."RunId";
                    PERFORM steward_facet_hour_quality(e, r."Provider", r."Model", NULL, tag."Tag", s) FROM evaluations e JOIN runs r ON r."Id" = e."RunId"
                        WHERE e."RunId" = tag."RunId";
                END $$;
                CREATE FUNCTION steward_tags_facet_hours() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_WHEN = 'BEFORE' THEN
                        PERFORM steward_facet_hour_tag(OLD, -1);
                        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
                    END IF;
                    PERFORM steward_facet_hour_tag(NEW, 1);
                    RETURN NULL;
                END $$;
                -- A tag's share goes before the row does, while its run still tells which hour, agent and model it counted for.
                CREATE TRIGGER rollup_tags_facet_hours_before BEFORE UPDATE OR DELETE ON run_tags FOR EACH ROW EXECUTE FUNCTION steward_tags_facet_hours();
                CREATE TRIGGER rollup_tags_facet_hours AFTER INSERT OR UPDATE ON run_tags FOR EACH ROW EXECUTE FUNCTION steward_tags_facet_hours();
                CREATE FUNCTION steward_evaluations_facet_hours() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE provider text; model text; user_id text;
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        SELECT r."Provider", r."Model", r."UserId" INTO provider, model, user_id FROM runs r WHERE r."Id" = OLD."RunId";
                        IF FOUND THEN
                            PERFORM steward_facet_hour_quality(OLD, provider, model, user_id, NULL, -1);
                        END IF;
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        SELECT r."Provider", r."Model", r."UserId" INTO provider, model, user_id FROM runs r WHERE r."Id" = NEW."RunId";
                        PERFORM steward_facet_hour_quality(NEW, provider, model, user_id, NULL, 1);
                        RETURN NULL;
                    END IF;
                    RETURN OLD;
                END $$;
                -- Deletes count before the row goes, while its metrics are still there (their own delete then finds no evaluation).
                CREATE TRIGGER rollup_evaluations_facet_hours_before_delete BEFORE DELETE ON evaluations FOR EACH ROW EXECUTE FUNCTION steward_evaluations_facet_hours();
                CREATE TRIGGER rollup_evaluations_facet_hours AFTER INSERT OR UPDATE ON evaluations FOR EACH ROW EXECUTE FUNCTION steward_evaluations_facet_hours();
                CREATE FUNCTION steward_metrics_facet_hours() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        PERFORM steward_facet_hour_metric(OLD, -1);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        PERFORM steward_facet_hour_metric(NEW, 1);
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER rollup_metrics_facet_hours AFTER INSERT OR UPDATE OR DELETE ON evaluation_metrics FOR EACH ROW EXECUTE FUNCTION steward_metrics_facet_hours();
                """);
            foreach (var sql in Backfill())
            {
                migrationBuilder.Sql(sql);
            }
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS rollup_runs_facet_hours ON runs;
                DROP TRIGGER IF EXISTS rollup_tags_facet_hours_before ON run_tags;
                DROP TRIGGER IF EXISTS rollup_tags_facet_hours ON run_tags;
                DROP TRIGGER IF EXISTS rollup_evaluations_facet_hours_before_delete ON evaluations;
                DROP TRIGGER IF EXISTS rollup_evaluations_facet_hours ON evaluations;
                DROP TRIGGER IF EXISTS rollup_metrics_facet_hours ON evaluation_metrics;
                DROP FUNCTION IF EXISTS steward_runs_facet_hours();
                DROP FUNCTION IF EXISTS steward_tags_facet_hours();
                DROP FUNCTION IF EXISTS steward_evaluations_facet_hours();
                DROP FUNCTION IF EXISTS steward_metrics_facet_hours();
                DROP FUNCTION IF EXISTS steward_facet_hour_tag(run_tags, integer);
                DROP FUNCTION IF EXISTS steward_facet_hour_cost(runs, text, integer);
                DROP FUNCTION IF EXISTS steward_facet_hour_usage(runs, runs);
                DROP FUNCTION IF EXISTS steward_facet_hour_quality(evaluations, text, text, text, text, integer);
                DROP FUNCTION IF EXISTS steward_facet_hour_metric(evaluation_metrics, integer);
                DROP TABLE IF EXISTS facet_hour_rollups;
                DROP TABLE IF EXISTS facet_quality_hour_rollups;
                DROP TABLE IF EXISTS facet_quality_metric_hour_rollups;
                """);
        }

        /// <summary>The runs trigger function as this migration made it (put back by FacetWorkOnlyWhereItCounts' Down).</summary>
        internal const string RunsFacetHoursFunction = $$"""
            CREATE OR REPLACE FUNCTION steward_runs_facet_hours() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    -- A new run has no tags yet (they follow it): its user's share.
                    PERFORM steward_facet_hour_cost(NEW, NULL, 1);
                ELSIF TG_OP = 'DELETE' THEN
                    -- Its tags went first (rollup_runs_facets_before_delete), taking their share; its user's share goes here.
                    PERFORM steward_facet_hour_cost(OLD, NULL, -1);
                ELSE
                    IF (OLD."StartedAt", OLD."PresetName", OLD."Provider", OLD."Model", OLD."UserId")
                        IS DISTINCT FROM (NEW."StartedAt", NEW."PresetName", NEW."Provider", NEW."Model", NEW."UserId") THEN
                        -- Moved to another hour, agent, model or user: its whole share moves (and rows left counting nothing go).
                        PERFORM steward_facet_hour_cost(OLD, NULL, -1);
                        PERFORM steward_facet_hour_cost(NEW, NULL, 1);
                    ELSIF (OLD."InputTokens", OLD."CachedInputTokens", OLD."OutputTokens", OLD."ReasoningTokens", OLD."CostNanoUsd")
                        IS DISTINCT FROM (NEW."InputTokens", NEW."CachedInputTokens", NEW."OutputTokens", NEW."ReasoningTokens", NEW."CostNanoUsd") THEN
                        -- Only used more (the writer finishing it): one upsert of the difference per facet, nothing to prune.
                        PERFORM steward_facet_hour_usage(OLD, NEW);
                    END IF;
            {{RunsFacetHoursEnd}}
            """;

        /// <summary>
        /// The end of the runs trigger function: a scored run given another user, provider or model takes its evaluation's share
        /// along. Shared with the migration that replaced the function (FacetWorkOnlyWhereItCounts).
        /// </summary>
        internal const string RunsFacetHoursEnd = """
                    IF (OLD."UserId", OLD."Provider", OLD."Model") IS DISTINCT FROM (NEW."UserId", NEW."Provider", NEW."Model") THEN
                        -- A scored run given another user, provider or model takes its evaluation's share along.
                        PERFORM steward_facet_hour_quality(e, OLD."Provider", OLD."Model", OLD."UserId", NULL, -1),
                            steward_facet_hour_quality(e, NEW."Provider", NEW."Model", NEW."UserId", NULL, 1)
                        FROM evaluations e WHERE e."RunId" = NEW."Id";
                    END IF;
                END IF;
                RETURN NULL;
            END $$;
            """;

        private static string F(string format, string value) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, value);

        /// <summary>Fills the three tables from the rows already stored, one grouped pass each (from scratch, so running it again is harmless).</summary>
        private static IEnumerable<string> Backfill()
        {
            yield return "DELETE FROM facet_hour_rollups; DELETE FROM facet_quality_hour_rollups; DELETE FROM facet_quality_metric_hour_rollups;";
            // The facets of every run, as (facet, val, id): its user, each of its tags.
            const string AllFacets = """
                (SELECT 'user'::text AS facet, "UserId" AS val, "Id" AS id FROM runs WHERE "UserId" IS NOT NULL UNION ALL SELECT 'tag', "Tag", "RunId" FROM run_tags) AS d
                """;
            yield return $"""
                INSERT INTO facet_hour_rollups ({Key}, {CostSums})
                SELECT d.facet, d.val, {F(Hour, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", COUNT(*), COUNT(r."CostNanoUsd"),
                    COUNT(*) FILTER (WHERE r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0), COALESCE(SUM(r."CostNanoUsd"), 0),
                    SUM(r."InputTokens" - r."CachedInputTokens"), SUM(r."CachedInputTokens"), SUM(r."OutputTokens" - r."ReasoningTokens"), SUM(r."ReasoningTokens")
                FROM {AllFacets} JOIN runs r ON r."Id" = d.id
                GROUP BY 1, 2, 3, 4, 5, 6;
                """;
            yield return $"""
                INSERT INTO facet_quality_hour_rollups ({Key}, {QualitySums})
                SELECT d.facet, d.val, {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", COUNT(*), SUM(e."Score"), COUNT(*) FILTER (WHERE e."Passed"),
                    COUNT(*) FILTER (WHERE e."Error" IS NOT NULL), COALESCE(SUM(e."JudgeCostNanoUsd"), 0)
                FROM {AllFacets} JOIN evaluations e ON e."RunId" = d.id JOIN runs r ON r."Id" = e."RunId"
                GROUP BY 1, 2, 3, 4, 5, 6;
                """;
            yield return $"""
                INSERT INTO facet_quality_metric_hour_rollups ({Key}, "Name", "Sum", "Count")
                SELECT d.facet, d.val, {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", m."Name", SUM(m."NormalizedScore"), COUNT(*)
                FROM {AllFacets} JOIN evaluations e ON e."RunId" = d.id JOIN runs r ON r."Id" = e."RunId"
                    JOIN evaluation_metrics m ON m."RunId" = e."RunId" AND m."NormalizedScore" IS NOT NULL
                GROUP BY 1, 2, 3, 4, 5, 6, 7;
                """;
            // Planned from statistics at once, not after autovacuum's next visit: a user's hours are read by an index-only scan.
            yield return "ANALYZE facet_hour_rollups; ANALYZE facet_quality_hour_rollups; ANALYZE facet_quality_metric_hour_rollups;";
        }
    }
}
