using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: what a user's or a tag's Analytics view still read from the runs themselves, kept by the database's
    /// triggers per facet (user, tag) and UTC day: the latency and time-to-first-token histograms (facet_histogram_rollups)
    /// and the quality of the runs' evaluations with each metric's mean (facet_quality_rollups, facet_quality_metric_rollups),
    /// in step with every write to runs, run_tags, evaluations and evaluation_metrics, in the same transaction, one upsert
    /// per rollup row a write counts in and no scans; then fills them from the rows already stored, one grouped pass per
    /// table (idempotent: it clears them first). The tables are read by raw SQL only, so the EF model does not hold them.
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261201080000_FacetHistogramQualityRollups")]
    public partial class FacetHistogramQualityRollups : Migration
    {
        private const string Day = "date_trunc('day', {0}, 'UTC')";

        private const string Month = "date_trunc('month', {0}, 'UTC')";

        private const string HistogramKey = "\"Facet\", \"Value\", \"Histogram\", \"Day\", \"PresetName\", \"Provider\", \"Model\", \"Bucket\"";

        private const string QualityKey = "\"Facet\", \"Value\", \"Day\", \"PresetName\", \"Provider\", \"Model\"";

        private const string HistogramUpsert = "ON CONFLICT (" + HistogramKey + ") DO UPDATE SET \"Runs\" = facet_histogram_rollups.\"Runs\" + EXCLUDED.\"Runs\"";

        private const string QualityUpsert = "ON CONFLICT (" + QualityKey + ") DO UPDATE SET \"Evaluations\" = facet_quality_rollups.\"Evaluations\" + EXCLUDED.\"Evaluations\", " +
            "\"ScoreSum\" = facet_quality_rollups.\"ScoreSum\" + EXCLUDED.\"ScoreSum\", \"Passed\" = facet_quality_rollups.\"Passed\" + EXCLUDED.\"Passed\", " +
            "\"Errors\" = facet_quality_rollups.\"Errors\" + EXCLUDED.\"Errors\", \"JudgeCostNanoUsd\" = facet_quality_rollups.\"JudgeCostNanoUsd\" + EXCLUDED.\"JudgeCostNanoUsd\"";

        private const string MetricUpsert = "ON CONFLICT (" + QualityKey + ", \"Name\") DO UPDATE SET \"Sum\" = facet_quality_metric_rollups.\"Sum\" + EXCLUDED.\"Sum\", " +
            "\"Count\" = facet_quality_metric_rollups.\"Count\" + EXCLUDED.\"Count\"";

        private const string CrossKey = "\"Facet\", \"Value\", \"ByFacet\", \"ByValue\", \"Day\", \"PresetName\", \"Provider\", \"Model\"";

        private const string CrossUpsert = "ON CONFLICT (" + CrossKey + ") DO UPDATE SET \"Runs\" = facet_cross_rollups.\"Runs\" + EXCLUDED.\"Runs\", " +
            "\"Tokens\" = facet_cross_rollups.\"Tokens\" + EXCLUDED.\"Tokens\", \"CostNanoUsd\" = facet_cross_rollups.\"CostNanoUsd\" + EXCLUDED.\"CostNanoUsd\", " +
            "\"UnpricedRuns\" = facet_cross_rollups.\"UnpricedRuns\" + EXCLUDED.\"UnpricedRuns\"";

        /// <summary>
        /// The pairs of facets run <c>r</c> counts under, as (f, v, bf, bv): its user by each tag, each tag by its user, each tag
        /// by each of its tags (itself included); with <c>only_tag</c>, only the pairs that tag makes (a tag row's trigger).
        /// What a user's view shows by tag and a tag's view by user and by tag.
        /// </summary>
        private const string Pairs = """
            SELECT 'user'::text AS f, r."UserId" AS v, 'tag'::text AS bf, t."Tag" AS bv FROM run_tags t
                WHERE t."RunId" = r."Id" AND r."UserId" IS NOT NULL AND (only_tag IS NULL OR t."Tag" = only_tag)
            UNION ALL SELECT 'tag', t."Tag", 'user', r."UserId" FROM run_tags t
                WHERE t."RunId" = r."Id" AND r."UserId" IS NOT NULL AND (only_tag IS NULL OR t."Tag" = only_tag)
            UNION ALL SELECT 'tag', a."Tag", 'tag', b."Tag" FROM run_tags a JOIN run_tags b ON b."RunId" = a."RunId"
                WHERE a."RunId" = r."Id" AND (only_tag IS NULL OR a."Tag" = only_tag OR b."Tag" = only_tag)
            """;

        private const string Bucket = "(SELECT \"Bucket\" FROM latency_buckets WHERE \"LowerMs\" <= h.ms ORDER BY \"LowerMs\" DESC LIMIT 1)";

        /// <summary>Run <c>r</c>'s times by histogram: its duration when it completed, its time to first token.</summary>
        private const string Times = """
            (VALUES ('latency', CASE WHEN r."Status" = 'Completed' THEN r."DurationMs" END), ('first_token', r."TimeToFirstTokenMs")) AS h(n, ms)
            """;

        /// <summary>The facets of run <c>r</c> (user, tags; not "every run", which the older rollups hold).</summary>
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

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE TABLE facet_histogram_rollups ("Facet" text NOT NULL, "Value" text NOT NULL, "Histogram" text NOT NULL, "Day" timestamp with time zone NOT NULL,
                    "PresetName" text NOT NULL, "Provider" text NOT NULL, "Model" text NOT NULL, "Bucket" integer NOT NULL, "Runs" bigint NOT NULL,
                    CONSTRAINT "PK_facet_histogram_rollups" PRIMARY KEY ("Facet", "Value", "Histogram", "Day", "PresetName", "Provider", "Model", "Bucket"));
                CREATE TABLE facet_quality_rollups ("Facet" text NOT NULL, "Value" text NOT NULL, "Day" timestamp with time zone NOT NULL, "PresetName" text NOT NULL,
                    "Provider" text NOT NULL, "Model" text NOT NULL, "Evaluations" bigint NOT NULL, "ScoreSum" double precision NOT NULL, "Passed" bigint NOT NULL,
                    "Errors" bigint NOT NULL, "JudgeCostNanoUsd" bigint NOT NULL,
                    CONSTRAINT "PK_facet_quality_rollups" PRIMARY KEY ("Facet", "Value", "Day", "PresetName", "Provider", "Model"));
                CREATE TABLE facet_quality_metric_rollups ("Facet" text NOT NULL, "Value" text NOT NULL, "Day" timestamp with time zone NOT NULL, "PresetName" text NOT NULL,
                    "Provider" text NOT NULL, "Model" text NOT NULL, "Name" text NOT NULL, "Sum" double precision NOT NULL, "Count" bigint NOT NULL,
                    CONSTRAINT "PK_facet_quality_metric_rollups" PRIMARY KEY ("Facet", "Value", "Day", "PresetName", "Provider", "Model", "Name"));
                CREATE TABLE histogram_month_rollups ("Histogram" text NOT NULL, "Month" timestamp with time zone NOT NULL, "PresetName" text NOT NULL,
                    "Provider" text NOT NULL, "Model" text NOT NULL, "Bucket" integer NOT NULL, "Runs" bigint NOT NULL,
                    CONSTRAINT "PK_histogram_month_rollups" PRIMARY KEY ("Histogram", "Month", "PresetName", "Provider", "Model", "Bucket"));
                CREATE TABLE facet_cross_rollups ("Facet" text NOT NULL, "Value" text NOT NULL, "ByFacet" text NOT NULL, "ByValue" text NOT NULL,
                    "Day" timestamp with time zone NOT NULL, "PresetName" text NOT NULL, "Provider" text NOT NULL, "Model" text NOT NULL, "Runs" bigint NOT NULL,
                    "Tokens" bigint NOT NULL, "CostNanoUsd" bigint NOT NULL, "UnpricedRuns" bigint NOT NULL,
                    CONSTRAINT "PK_facet_cross_rollups" PRIMARY KEY ("Facet", "Value", "ByFacet", "ByValue", "Day", "PresetName", "Provider", "Model"));
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_cross(r runs, only_tag text, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO facet_cross_rollups ({CrossKey}, "Runs", "Tokens", "CostNanoUsd", "UnpricedRuns")
                    SELECT p.f, p.v, p.bf, p.bv, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", s, s * (r."InputTokens" + r."OutputTokens"),
                        s * COALESCE(r."CostNanoUsd", 0), s * (r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0)::int
                    FROM ({Pairs}) AS p
                    {CrossUpsert};
                    IF s < 0 THEN
                        DELETE FROM facet_cross_rollups WHERE ("Facet", "Value", "ByFacet", "ByValue") IN ({Pairs}) AND "Day" = {F(Day, "r.\"StartedAt\"")}
                            AND "PresetName" = r."PresetName" AND "Provider" = r."Provider" AND "Model" = r."Model" AND "Runs" = 0;
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_histograms(r runs, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO facet_histogram_rollups ({HistogramKey}, "Runs")
                    SELECT d.facet, d.val, h.n, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket}, s
                    FROM ({RunFacets}) AS d CROSS JOIN {Times} WHERE h.ms IS NOT NULL
                    {HistogramUpsert};
                    IF s < 0 THEN
                        -- Only the rows this run counted in (a day's bucket rows are many; the run's are two per facet).
                        DELETE FROM facet_histogram_rollups WHERE ("Facet", "Value", "Histogram", "Bucket") IN (
                                SELECT d.facet, d.val, h.n, {Bucket} FROM ({RunFacets}) AS d CROSS JOIN {Times} WHERE h.ms IS NOT NULL)
                            AND "Day" = {F(Day, "r.\"StartedAt\"")} AND "PresetName" = r."PresetName" AND "Provider" = r."Provider" AND "Model" = r."Model" AND "Runs" = 0;
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_cross_usage(o runs, r runs) RETURNS void LANGUAGE plpgsql AS $$
                DECLARE only_tag text := NULL;
                BEGIN
                    INSERT INTO facet_cross_rollups ({CrossKey}, "Runs", "Tokens", "CostNanoUsd", "UnpricedRuns")
                    SELECT p.f, p.v, p.bf, p.bv, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", 0,
                        r."InputTokens" + r."OutputTokens" - o."InputTokens" - o."OutputTokens", COALESCE(r."CostNanoUsd", 0) - COALESCE(o."CostNanoUsd", 0),
                        (r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0)::int - (o."CostNanoUsd" IS NULL AND o."InputTokens" + o."OutputTokens" > 0)::int
                    FROM ({Pairs}) AS p
                    {CrossUpsert};
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_month_histograms(r runs, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    -- Every run's histograms by UTC month: a view of all time or of several months reads a month's buckets once, not each day's.
                    INSERT INTO histogram_month_rollups ("Histogram", "Month", "PresetName", "Provider", "Model", "Bucket", "Runs")
                    SELECT h.n, {F(Month, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket}, s FROM {Times} WHERE h.ms IS NOT NULL
                    ON CONFLICT ("Histogram", "Month", "PresetName", "Provider", "Model", "Bucket") DO UPDATE SET "Runs" = histogram_month_rollups."Runs" + EXCLUDED."Runs";
                    IF s < 0 THEN
                        DELETE FROM histogram_month_rollups WHERE ("Histogram", "Month", "PresetName", "Provider", "Model", "Bucket") IN (
                            SELECT h.n, {F(Month, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket} FROM {Times} WHERE h.ms IS NOT NULL) AND "Runs" = 0;
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_quality(e evaluations, provider text, model text, user_id text, only_tag text, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO facet_quality_rollups ({QualityKey}, "Evaluations", "ScoreSum", "Passed", "Errors", "JudgeCostNanoUsd")
                    SELECT d.facet, d.val, {F(Day, "e.\"EvaluatedAt\"")}, e."PresetName", provider, model, s, s * e."Score", s * e."Passed"::int,
                        s * (e."Error" IS NOT NULL)::int, s * COALESCE(e."JudgeCostNanoUsd", 0)
                    FROM ({EvaluationFacets}) AS d
                    {QualityUpsert};
                    INSERT INTO facet_quality_metric_rollups ({QualityKey}, "Name", "Sum", "Count")
                    SELECT d.facet, d.val, {F(Day, "e.\"EvaluatedAt\"")}, e."PresetName", provider, model, m."Name", s * SUM(m."NormalizedScore"), s * COUNT(*)
                    FROM ({EvaluationFacets}) AS d CROSS JOIN evaluation_metrics m WHERE m."RunId" = e."RunId" AND m."NormalizedScore" IS NOT NULL
                    GROUP BY d.facet, d.val, m."Name"
                    {MetricUpsert};
                    IF s < 0 THEN
                        DELETE FROM facet_quality_rollups WHERE ("Facet", "Value") IN ({EvaluationFacets}) AND "Day" = {F(Day, "e.\"EvaluatedAt\"")}
                            AND "PresetName" = e."PresetName" AND "Provider" = provider AND "Model" = model AND "Evaluations" = 0;
                        DELETE FROM facet_quality_metric_rollups WHERE ("Facet", "Value") IN ({EvaluationFacets}) AND "Day" = {F(Day, "e.\"EvaluatedAt\"")}
                            AND "PresetName" = e."PresetName" AND "Provider" = provider AND "Model" = model AND "Count" = 0;
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_tag(tag run_tags, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO facet_histogram_rollups ({HistogramKey}, "Runs")
                    SELECT 'tag', tag."Tag", h.n, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket}, s
                    FROM runs r CROSS JOIN LATERAL {Times} WHERE r."Id" = tag."RunId" AND h.ms IS NOT NULL
                    {HistogramUpsert};
                    IF s < 0 THEN
                        DELETE FROM facet_histogram_rollups x USING runs r CROSS JOIN LATERAL {Times}
                        WHERE r."Id" = tag."RunId" AND h.ms IS NOT NULL AND x."Facet" = 'tag' AND x."Value" = tag."Tag" AND x."Histogram" = h.n
                            AND x."Day" = {F(Day, "r.\"StartedAt\"")} AND x."PresetName" = r."PresetName" AND x."Provider" = r."Provider" AND x."Model" = r."Model"
                            AND x."Bucket" = {Bucket} AND x."Runs" = 0;
                    END IF;
                    PERFORM steward_facet_quality(e, r."Provider", r."Model", NULL, tag."Tag", s) FROM evaluations e JOIN runs r ON r."Id" = e."RunId" WHERE e."RunId" = tag."RunId";
                    PERFORM steward_facet_cross(r, tag."Tag", s) FROM runs r WHERE r."Id" = tag."RunId";
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_facet_metric(m evaluation_metrics, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    IF m."NormalizedScore" IS NULL THEN
                        RETURN;
                    END IF;
                    INSERT INTO facet_quality_metric_rollups ({QualityKey}, "Name", "Sum", "Count")
                    SELECT d.facet, d.val, {F(Day, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", m."Name", s * m."NormalizedScore", s
                    FROM evaluations e JOIN runs r ON r."Id" = e."RunId" CROSS JOIN LATERAL ({RunFacets}) AS d WHERE e."RunId" = m."RunId"
                    {MetricUpsert};
                    IF s < 0 THEN
                        DELETE FROM facet_quality_metric_rollups x USING evaluations e JOIN runs r ON r."Id" = e."RunId"
                        WHERE e."RunId" = m."RunId" AND x."Name" = m."Name" AND x."Count" = 0 AND x."Day" = {F(Day, "e.\"EvaluatedAt\"")}
                            AND (x."Facet", x."Value") IN ({RunFacets});
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql(RunsFacetMoreFunction);
            migrationBuilder.Sql("""
                -- Only the columns the facet rollups hold: a run's other updates (evaluation status, cancel requests) cost nothing here.
                CREATE TRIGGER rollup_runs_facet_more AFTER INSERT OR DELETE OR UPDATE OF "StartedAt", "PresetName", "Provider", "Model", "Status", "DurationMs",
                    "TimeToFirstTokenMs", "UserId", "InputTokens", "OutputTokens", "CostNanoUsd" ON runs FOR EACH ROW EXECUTE FUNCTION steward_runs_facet_more();
                CREATE FUNCTION steward_tags_facet_more() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_WHEN = 'BEFORE' THEN
                        PERFORM steward_facet_tag(OLD, -1);
                        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
                    END IF;
                    PERFORM steward_facet_tag(NEW, 1);
                    RETURN NULL;
                END $$;
                -- A tag's share goes before the row does, while the pairs it makes with its run's other tags can still be read.
                CREATE TRIGGER rollup_tags_facet_more_before BEFORE UPDATE OR DELETE ON run_tags FOR EACH ROW EXECUTE FUNCTION steward_tags_facet_more();
                CREATE TRIGGER rollup_tags_facet_more AFTER INSERT OR UPDATE ON run_tags FOR EACH ROW EXECUTE FUNCTION steward_tags_facet_more();
                CREATE FUNCTION steward_evaluations_facet_more() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE provider text; model text; user_id text;
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        SELECT r."Provider", r."Model", r."UserId" INTO provider, model, user_id FROM runs r WHERE r."Id" = OLD."RunId";
                        IF FOUND THEN
                            PERFORM steward_facet_quality(OLD, provider, model, user_id, NULL, -1);
                        END IF;
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        SELECT r."Provider", r."Model", r."UserId" INTO provider, model, user_id FROM runs r WHERE r."Id" = NEW."RunId";
                        PERFORM steward_facet_quality(NEW, provider, model, user_id, NULL, 1);
                        RETURN NULL;
                    END IF;
                    RETURN OLD;
                END $$;
                -- Deletes count before the row goes, while its metrics are still there (their own delete then finds no evaluation).
                CREATE TRIGGER rollup_evaluations_facet_more_before_delete BEFORE DELETE ON evaluations FOR EACH ROW EXECUTE FUNCTION steward_evaluations_facet_more();
                CREATE TRIGGER rollup_evaluations_facet_more AFTER INSERT OR UPDATE ON evaluations FOR EACH ROW EXECUTE FUNCTION steward_evaluations_facet_more();
                CREATE FUNCTION steward_metrics_facet_more() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        PERFORM steward_facet_metric(OLD, -1);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        PERFORM steward_facet_metric(NEW, 1);
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER rollup_metrics_facet_more AFTER INSERT OR UPDATE OR DELETE ON evaluation_metrics FOR EACH ROW EXECUTE FUNCTION steward_metrics_facet_more();
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
                DROP TRIGGER IF EXISTS rollup_runs_facet_more ON runs;
                DROP TRIGGER IF EXISTS rollup_tags_facet_more_before ON run_tags;
                DROP TRIGGER IF EXISTS rollup_tags_facet_more ON run_tags;
                DROP TRIGGER IF EXISTS rollup_evaluations_facet_more_before_delete ON evaluations;
                DROP TRIGGER IF EXISTS rollup_evaluations_facet_more ON evaluations;
                DROP TRIGGER IF EXISTS rollup_metrics_facet_more ON evaluation_metrics;
                DROP FUNCTION IF EXISTS steward_runs_facet_more();
                DROP FUNCTION IF EXISTS steward_tags_facet_more();
                DROP FUNCTION IF EXISTS steward_evaluations_facet_more();
                DROP FUNCTION IF EXISTS steward_metrics_facet_more();
                DROP FUNCTION IF EXISTS steward_facet_histograms(runs, integer);
                DROP FUNCTION IF EXISTS steward_facet_quality(evaluations, text, text, text, text, integer);
                DROP FUNCTION IF EXISTS steward_facet_tag(run_tags, integer);
                DROP FUNCTION IF EXISTS steward_facet_metric(evaluation_metrics, integer);
                DROP FUNCTION IF EXISTS steward_facet_cross(runs, text, integer);
                DROP FUNCTION IF EXISTS steward_facet_cross_usage(runs, runs);
                DROP FUNCTION IF EXISTS steward_month_histograms(runs, integer);
                DROP TABLE IF EXISTS histogram_month_rollups;
                DROP TABLE IF EXISTS facet_cross_rollups;
                DROP TABLE IF EXISTS facet_histogram_rollups;
                DROP TABLE IF EXISTS facet_quality_rollups;
                DROP TABLE IF EXISTS facet_quality_metric_rollups;
                """);
        }

        /// <summary>The runs trigger function as this migration made it (put back by FacetWorkOnlyWhereItCounts' Down).</summary>
        internal const string RunsFacetMoreFunction = $$"""
            CREATE OR REPLACE FUNCTION steward_runs_facet_more() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    -- A new run has no tags yet (they follow it): its user's histograms.
                    PERFORM steward_facet_histograms(NEW, 1);
                    PERFORM steward_month_histograms(NEW, 1);
                ELSIF TG_OP = 'DELETE' THEN
                    -- Its tags went first (rollup_runs_facets_before_delete), taking their share; its user's share goes here.
                    PERFORM steward_facet_histograms(OLD, -1);
                    PERFORM steward_month_histograms(OLD, -1);
                ELSE
                    IF (OLD."StartedAt", OLD."PresetName", OLD."Provider", OLD."Model", OLD."Status", OLD."DurationMs", OLD."TimeToFirstTokenMs", OLD."UserId")
                        IS DISTINCT FROM (NEW."StartedAt", NEW."PresetName", NEW."Provider", NEW."Model", NEW."Status", NEW."DurationMs", NEW."TimeToFirstTokenMs", NEW."UserId") THEN
                        PERFORM steward_facet_histograms(OLD, -1);
                        PERFORM steward_facet_histograms(NEW, 1);
                        PERFORM steward_month_histograms(OLD, -1);
                        PERFORM steward_month_histograms(NEW, 1);
                    END IF;
                    IF (OLD."StartedAt", OLD."PresetName", OLD."Provider", OLD."Model", OLD."UserId")
                        IS DISTINCT FROM (NEW."StartedAt", NEW."PresetName", NEW."Provider", NEW."Model", NEW."UserId") THEN
                        -- Moved to another day, agent, model or user: its pairs' share moves (and rows left counting nothing go).
                        PERFORM steward_facet_cross(OLD, NULL, -1);
                        PERFORM steward_facet_cross(NEW, NULL, 1);
                    ELSIF (OLD."InputTokens", OLD."OutputTokens", OLD."CostNanoUsd") IS DISTINCT FROM (NEW."InputTokens", NEW."OutputTokens", NEW."CostNanoUsd") THEN
                        -- Only used more (the writer finishing it): one upsert of the difference per pair, nothing to prune.
                        PERFORM steward_facet_cross_usage(OLD, NEW);
                    END IF;
            {{RunsFacetMoreEnd}}
            """;

        /// <summary>
        /// The end of the runs trigger function: a scored run given another user, provider or model takes its evaluation's share
        /// along. Shared with the migration that replaced the function (FacetWorkOnlyWhereItCounts).
        /// </summary>
        internal const string RunsFacetMoreEnd = """
                    IF (OLD."UserId", OLD."Provider", OLD."Model") IS DISTINCT FROM (NEW."UserId", NEW."Provider", NEW."Model") THEN
                        -- A scored run given another user, provider or model takes its evaluation's share along.
                        PERFORM steward_facet_quality(e, OLD."Provider", OLD."Model", OLD."UserId", NULL, -1),
                            steward_facet_quality(e, NEW."Provider", NEW."Model", NEW."UserId", NULL, 1)
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
            yield return "DELETE FROM facet_histogram_rollups; DELETE FROM facet_quality_rollups; DELETE FROM facet_quality_metric_rollups; DELETE FROM facet_cross_rollups; " +
                "DELETE FROM histogram_month_rollups;";
            yield return $"""
                INSERT INTO histogram_month_rollups ("Histogram", "Month", "PresetName", "Provider", "Model", "Bucket", "Runs")
                SELECT h.n, {F(Month, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket}, COUNT(*)
                FROM runs r CROSS JOIN LATERAL {Times} WHERE h.ms IS NOT NULL
                GROUP BY 1, 2, 3, 4, 5, 6;
                """;
            // The pairs of every tagged run: its user by each tag, each tag by its user, each tag by each of its tags.
            yield return $"""
                INSERT INTO facet_cross_rollups ({CrossKey}, "Runs", "Tokens", "CostNanoUsd", "UnpricedRuns")
                SELECT p.f, p.v, p.bf, p.bv, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", COUNT(*), SUM(r."InputTokens" + r."OutputTokens"),
                    COALESCE(SUM(r."CostNanoUsd"), 0), COUNT(*) FILTER (WHERE r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0)
                FROM (SELECT 'user'::text AS f, u."UserId" AS v, 'tag'::text AS bf, t."Tag" AS bv, t."RunId" AS id FROM run_tags t JOIN runs u ON u."Id" = t."RunId"
                      WHERE u."UserId" IS NOT NULL
                      UNION ALL SELECT 'tag', t."Tag", 'user', u."UserId", t."RunId" FROM run_tags t JOIN runs u ON u."Id" = t."RunId" WHERE u."UserId" IS NOT NULL
                      UNION ALL SELECT 'tag', a."Tag", 'tag', b."Tag", a."RunId" FROM run_tags a JOIN run_tags b ON b."RunId" = a."RunId") AS p
                JOIN runs r ON r."Id" = p.id
                GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
                """;
            // The facets of every run, as (facet, val, id): its user, each of its tags.
            const string AllFacets = """
                (SELECT 'user'::text AS facet, "UserId" AS val, "Id" AS id FROM runs WHERE "UserId" IS NOT NULL UNION ALL SELECT 'tag', "Tag", "RunId" FROM run_tags) AS d
                """;
            yield return $"""
                INSERT INTO facet_histogram_rollups ({HistogramKey}, "Runs")
                SELECT d.facet, d.val, h.n, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket}, COUNT(*)
                FROM {AllFacets} JOIN runs r ON r."Id" = d.id CROSS JOIN LATERAL {Times} WHERE h.ms IS NOT NULL
                GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
                """;
            yield return $"""
                INSERT INTO facet_quality_rollups ({QualityKey}, "Evaluations", "ScoreSum", "Passed", "Errors", "JudgeCostNanoUsd")
                SELECT d.facet, d.val, {F(Day, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", COUNT(*), SUM(e."Score"), COUNT(*) FILTER (WHERE e."Passed"),
                    COUNT(*) FILTER (WHERE e."Error" IS NOT NULL), COALESCE(SUM(e."JudgeCostNanoUsd"), 0)
                FROM {AllFacets} JOIN evaluations e ON e."RunId" = d.id JOIN runs r ON r."Id" = e."RunId"
                GROUP BY 1, 2, 3, 4, 5, 6;
                """;
            yield return $"""
                INSERT INTO facet_quality_metric_rollups ({QualityKey}, "Name", "Sum", "Count")
                SELECT d.facet, d.val, {F(Day, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", m."Name", SUM(m."NormalizedScore"), COUNT(*)
                FROM {AllFacets} JOIN evaluations e ON e."RunId" = d.id JOIN runs r ON r."Id" = e."RunId"
                    JOIN evaluation_metrics m ON m."RunId" = e."RunId" AND m."NormalizedScore" IS NOT NULL
                GROUP BY 1, 2, 3, 4, 5, 6, 7;
                """;
        }
    }
}
