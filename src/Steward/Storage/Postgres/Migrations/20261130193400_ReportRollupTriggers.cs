using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: the triggers that keep the report rollups (run_rollups, latency_rollups, quality_rollups,
    /// quality_metric_rollups) and the sessions' summary columns in step with every write to runs, evaluations,
    /// evaluation_metrics and run_feedback, in the same transaction; trigram indexes for History's text search where
    /// pg_trgm is available (ILIKE works without them, by a scan); then fills the rollups from the rows already stored
    /// (idempotent: it clears them first).
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261130193400_ReportRollupTriggers")]
    public partial class ReportRollupTriggers : Migration
    {
        internal const string Hour = "date_trunc('hour', {0}, 'UTC')";
        internal const string Day = "date_trunc('day', {0}, 'UTC')";

        // The rollup tables' inserts and the upserts that add a row's values to the row of its key: one text for every
        // trigger function that writes them (this migration's and those that replace its functions).
        internal const string RunRollupsInsert = """
            INSERT INTO run_rollups ("Hour", "PresetName", "Provider", "Model", "Runs", "Completed", "Failed", "PricedRuns", "UnpricedRuns", "CostNanoUsd",
                "UncachedInput", "CachedInput", "NonReasoningOutput", "Reasoning")
            """;

        internal const string RunRollupsUpsert = """
            ON CONFLICT ("Hour", "PresetName", "Provider", "Model") DO UPDATE SET "Runs" = run_rollups."Runs" + EXCLUDED."Runs",
                "Completed" = run_rollups."Completed" + EXCLUDED."Completed", "Failed" = run_rollups."Failed" + EXCLUDED."Failed",
                "PricedRuns" = run_rollups."PricedRuns" + EXCLUDED."PricedRuns", "UnpricedRuns" = run_rollups."UnpricedRuns" + EXCLUDED."UnpricedRuns",
                "CostNanoUsd" = run_rollups."CostNanoUsd" + EXCLUDED."CostNanoUsd", "UncachedInput" = run_rollups."UncachedInput" + EXCLUDED."UncachedInput",
                "CachedInput" = run_rollups."CachedInput" + EXCLUDED."CachedInput",
                "NonReasoningOutput" = run_rollups."NonReasoningOutput" + EXCLUDED."NonReasoningOutput", "Reasoning" = run_rollups."Reasoning" + EXCLUDED."Reasoning"
            """;

        internal const string LatencyRollupsInsert = """INSERT INTO latency_rollups ("Day", "PresetName", "Provider", "Model", "Bucket", "Runs")""";

        internal const string LatencyRollupsUpsert =
            "ON CONFLICT (\"Day\", \"PresetName\", \"Provider\", \"Model\", \"Bucket\") DO UPDATE SET \"Runs\" = latency_rollups.\"Runs\" + EXCLUDED.\"Runs\"";

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("CREATE TABLE latency_buckets (\"LowerMs\" double precision NOT NULL PRIMARY KEY, \"Bucket\" integer NOT NULL);");
            migrationBuilder.Sql("INSERT INTO latency_buckets VALUES " + string.Join(", ", Enumerable.Range(0, Analytics.LatencyBuckets.Last + 1)
                .Select(b => $"({(b == 0 ? "-1e300" : Analytics.LatencyBuckets.LowerMs(b).ToString("R", System.Globalization.CultureInfo.InvariantCulture))}, {b})")) + ";");
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_rollup_run(r runs, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    {RunRollupsInsert}
                    VALUES ({F(Hour, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", s, s * (r."Status" = 'Completed')::int, s * (r."Status" = 'Failed')::int,
                        s * (r."CostNanoUsd" IS NOT NULL)::int, s * (r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0)::int,
                        s * COALESCE(r."CostNanoUsd", 0), s * (r."InputTokens" - r."CachedInputTokens"), s * r."CachedInputTokens",
                        s * (r."OutputTokens" - r."ReasoningTokens"), s * r."ReasoningTokens")
                    {RunRollupsUpsert};
                    IF s < 0 THEN
                        DELETE FROM run_rollups WHERE ("Hour", "PresetName", "Provider", "Model") = ({F(Hour, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model")
                            AND "Runs" = 0;
                    END IF;
                    IF r."Status" = 'Completed' AND r."DurationMs" IS NOT NULL THEN
                        {LatencyRollupsInsert}
                        VALUES ({F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model",
                            (SELECT "Bucket" FROM latency_buckets WHERE "LowerMs" <= r."DurationMs" ORDER BY "LowerMs" DESC LIMIT 1), s)
                        {LatencyRollupsUpsert};
                        IF s < 0 THEN
                            DELETE FROM latency_rollups WHERE ("Day", "PresetName", "Provider", "Model") = ({F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model")
                                AND "Runs" = 0;
                        END IF;
                    END IF;
                    UPDATE sessions SET "RunCount" = "RunCount" + s, "EvalRuns" = "EvalRuns" + s * (r."Purpose" = 'eval')::int,
                        "Tokens" = "Tokens" + s * (r."InputTokens" + r."OutputTokens"), "PricedRuns" = "PricedRuns" + s * (r."CostNanoUsd" IS NOT NULL)::int,
                        "UnpricedRuns" = "UnpricedRuns" + s * (r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0)::int,
                        "CostNanoUsd" = "CostNanoUsd" + s * COALESCE(r."CostNanoUsd", 0)
                    WHERE "Id" = r."SessionId";
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_rollup_quality(e evaluations, provider text, model text, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO quality_rollups ("Hour", "PresetName", "Provider", "Model", "Evaluations", "ScoreSum", "Passed", "Errors", "JudgeCostNanoUsd")
                    VALUES ({F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", provider, model, s, s * e."Score", s * e."Passed"::int, s * (e."Error" IS NOT NULL)::int,
                        s * COALESCE(e."JudgeCostNanoUsd", 0))
                    ON CONFLICT ("Hour", "PresetName", "Provider", "Model") DO UPDATE SET "Evaluations" = quality_rollups."Evaluations" + EXCLUDED."Evaluations",
                        "ScoreSum" = quality_rollups."ScoreSum" + EXCLUDED."ScoreSum", "Passed" = quality_rollups."Passed" + EXCLUDED."Passed",
                        "Errors" = quality_rollups."Errors" + EXCLUDED."Errors", "JudgeCostNanoUsd" = quality_rollups."JudgeCostNanoUsd" + EXCLUDED."JudgeCostNanoUsd";
                    INSERT INTO quality_metric_rollups ("Hour", "PresetName", "Provider", "Model", "Name", "Sum", "Count")
                    SELECT {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", provider, model, m."Name", s * SUM(m."NormalizedScore"), s * COUNT(*)
                    FROM evaluation_metrics m WHERE m."RunId" = e."RunId" AND m."NormalizedScore" IS NOT NULL GROUP BY m."Name"
                    ON CONFLICT ("Hour", "PresetName", "Provider", "Model", "Name") DO UPDATE SET "Sum" = quality_metric_rollups."Sum" + EXCLUDED."Sum",
                        "Count" = quality_metric_rollups."Count" + EXCLUDED."Count";
                    IF s < 0 THEN
                        DELETE FROM quality_rollups WHERE ("Hour", "PresetName", "Provider", "Model") = ({F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", provider, model)
                            AND "Evaluations" = 0;
                        DELETE FROM quality_metric_rollups WHERE ("Hour", "PresetName", "Provider", "Model") = ({F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", provider, model)
                            AND "Count" = 0;
                    END IF;
                    UPDATE sessions SET "ScoreSum" = "ScoreSum" + s * e."Score", "Scored" = "Scored" + s
                    WHERE "Id" = (SELECT r."SessionId" FROM runs r WHERE r."Id" = e."RunId");
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_rollup_metric(m evaluation_metrics, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    IF m."NormalizedScore" IS NULL THEN
                        RETURN;
                    END IF;
                    INSERT INTO quality_metric_rollups ("Hour", "PresetName", "Provider", "Model", "Name", "Sum", "Count")
                    SELECT {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", m."Name", s * m."NormalizedScore", s
                    FROM evaluations e JOIN runs r ON r."Id" = e."RunId" WHERE e."RunId" = m."RunId"
                    ON CONFLICT ("Hour", "PresetName", "Provider", "Model", "Name") DO UPDATE SET "Sum" = quality_metric_rollups."Sum" + EXCLUDED."Sum",
                        "Count" = quality_metric_rollups."Count" + EXCLUDED."Count";
                    IF s < 0 THEN
                        DELETE FROM quality_metric_rollups WHERE "Name" = m."Name" AND "Count" = 0;
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql("""
                CREATE FUNCTION steward_rollup_feedback(f run_feedback, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE sessions SET "FeedbackUp" = "FeedbackUp" + s * (f."Rating" > 0)::int, "FeedbackDown" = "FeedbackDown" + s * (f."Rating" < 0)::int
                    WHERE "Id" = (SELECT r."SessionId" FROM runs r WHERE r."Id" = f."RunId");
                END $$;
                """);
            migrationBuilder.Sql(RunsRollupFunction());
            migrationBuilder.Sql("""
                CREATE TRIGGER rollup_runs_before_delete BEFORE DELETE ON runs FOR EACH ROW EXECUTE FUNCTION steward_runs_rollup();
                CREATE TRIGGER rollup_runs AFTER INSERT OR UPDATE OR DELETE ON runs FOR EACH ROW EXECUTE FUNCTION steward_runs_rollup();
                """);
            migrationBuilder.Sql("""
                CREATE FUNCTION steward_evaluations_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE provider text; model text;
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        SELECT r."Provider", r."Model" INTO provider, model FROM runs r WHERE r."Id" = OLD."RunId";
                        IF FOUND THEN
                            PERFORM steward_rollup_quality(OLD, provider, model, -1);
                        END IF;
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        SELECT r."Provider", r."Model" INTO provider, model FROM runs r WHERE r."Id" = NEW."RunId";
                        PERFORM steward_rollup_quality(NEW, provider, model, 1);
                        RETURN NULL;
                    END IF;
                    RETURN OLD;
                END $$;
                -- Deletes count before the row goes, while its metrics are still there (their own delete then finds no evaluation).
                CREATE TRIGGER rollup_evaluations_before_delete BEFORE DELETE ON evaluations FOR EACH ROW EXECUTE FUNCTION steward_evaluations_rollup();
                CREATE TRIGGER rollup_evaluations AFTER INSERT OR UPDATE ON evaluations FOR EACH ROW EXECUTE FUNCTION steward_evaluations_rollup();
                CREATE FUNCTION steward_metrics_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        PERFORM steward_rollup_metric(OLD, -1);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        PERFORM steward_rollup_metric(NEW, 1);
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER rollup_metrics AFTER INSERT OR UPDATE OR DELETE ON evaluation_metrics FOR EACH ROW EXECUTE FUNCTION steward_metrics_rollup();
                CREATE FUNCTION steward_feedback_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        PERFORM steward_rollup_feedback(OLD, -1);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        PERFORM steward_rollup_feedback(NEW, 1);
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER rollup_feedback AFTER INSERT OR UPDATE OR DELETE ON run_feedback FOR EACH ROW EXECUTE FUNCTION steward_feedback_rollup();
                """);
            // Trigram indexes serve History's ILIKE '%…%' text search; without pg_trgm (or the right to create it) the same
            // query scans, and the migration still succeeds.
            migrationBuilder.Sql("""
                DO $$
                BEGIN
                    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
                        CREATE EXTENSION IF NOT EXISTS pg_trgm;
                        CREATE INDEX IF NOT EXISTS "IX_runs_Query_trgm" ON runs USING gin ("Query" gin_trgm_ops);
                        CREATE INDEX IF NOT EXISTS "IX_sessions_Title_trgm" ON sessions USING gin ("Title" gin_trgm_ops);
                    ELSE
                        RAISE NOTICE 'pg_trgm is not available: History text search will scan instead of using an index.';
                    END IF;
                EXCEPTION WHEN insufficient_privilege THEN
                    RAISE NOTICE 'pg_trgm could not be created (%): History text search will scan instead of using an index.', SQLERRM;
                END $$;
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
                DROP TRIGGER IF EXISTS rollup_runs_before_delete ON runs;
                DROP TRIGGER IF EXISTS rollup_runs ON runs;
                DROP TRIGGER IF EXISTS rollup_evaluations_before_delete ON evaluations;
                DROP TRIGGER IF EXISTS rollup_evaluations ON evaluations;
                DROP TRIGGER IF EXISTS rollup_metrics ON evaluation_metrics;
                DROP TRIGGER IF EXISTS rollup_feedback ON run_feedback;
                DROP FUNCTION IF EXISTS steward_runs_rollup();
                DROP FUNCTION IF EXISTS steward_evaluations_rollup();
                DROP FUNCTION IF EXISTS steward_metrics_rollup();
                DROP FUNCTION IF EXISTS steward_feedback_rollup();
                DROP FUNCTION IF EXISTS steward_rollup_run(runs, integer);
                DROP FUNCTION IF EXISTS steward_rollup_quality(evaluations, text, text, integer);
                DROP FUNCTION IF EXISTS steward_rollup_metric(evaluation_metrics, integer);
                DROP FUNCTION IF EXISTS steward_rollup_feedback(run_feedback, integer);
                DROP INDEX IF EXISTS "IX_runs_Query_trgm";
                DROP INDEX IF EXISTS "IX_sessions_Title_trgm";
                DROP TABLE IF EXISTS latency_buckets;
                """);
        }

        internal static string F(string format, string value) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, value);

        /// <summary>
        /// The trigger function that keeps run_rollups, latency_rollups and the sessions' totals, with <paramref name="keptKeys"/>
        /// (migration RunRollupsInOneStep) run first for an update that keeps the run's rollup keys.
        /// </summary>
        internal static string RunsRollupFunction(string keptKeys = "") => $"""
            CREATE OR REPLACE FUNCTION steward_runs_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' AND TG_WHEN = 'BEFORE' THEN
                    -- The run's evaluation and feedback go first, while the run still tells which session and model they count for.
                    DELETE FROM evaluations WHERE "RunId" = OLD."Id";
                    DELETE FROM run_feedback WHERE "RunId" = OLD."Id";
                    RETURN OLD;
                END IF;
            {keptKeys}
                IF TG_OP <> 'INSERT' THEN
                    PERFORM steward_rollup_run(OLD, -1);
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    PERFORM steward_rollup_run(NEW, 1);
                END IF;
                IF TG_OP = 'UPDATE' AND (OLD."Provider", OLD."Model") IS DISTINCT FROM (NEW."Provider", NEW."Model") THEN
                    -- A scored run that changes model or provider takes its evaluation's share along.
                    PERFORM steward_rollup_quality(e, OLD."Provider", OLD."Model", -1), steward_rollup_quality(e, NEW."Provider", NEW."Model", 1)
                    FROM evaluations e WHERE e."RunId" = NEW."Id";
                END IF;
                RETURN NULL;
            END $$;
            """;

        /// <summary>Fills the rollups and summaries from the rows already stored (from scratch, so running it again is harmless).</summary>
        private static IEnumerable<string> Backfill()
        {
            yield return "DELETE FROM run_rollups; DELETE FROM latency_rollups; DELETE FROM quality_rollups; DELETE FROM quality_metric_rollups;";
            yield return $"""
                {RunRollupsInsert}
                SELECT {F(Hour, "\"StartedAt\"")}, "PresetName", "Provider", "Model", COUNT(*), COUNT(*) FILTER (WHERE "Status" = 'Completed'),
                    COUNT(*) FILTER (WHERE "Status" = 'Failed'), COUNT("CostNanoUsd"),
                    COUNT(*) FILTER (WHERE "CostNanoUsd" IS NULL AND "InputTokens" + "OutputTokens" > 0), COALESCE(SUM("CostNanoUsd"), 0),
                    SUM("InputTokens" - "CachedInputTokens"), SUM("CachedInputTokens"), SUM("OutputTokens" - "ReasoningTokens"), SUM("ReasoningTokens")
                FROM runs GROUP BY 1, 2, 3, 4;
                """;
            yield return $"""
                {LatencyRollupsInsert}
                SELECT {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model",
                    (SELECT "Bucket" FROM latency_buckets WHERE "LowerMs" <= r."DurationMs" ORDER BY "LowerMs" DESC LIMIT 1), COUNT(*)
                FROM runs r WHERE r."Status" = 'Completed' AND r."DurationMs" IS NOT NULL GROUP BY 1, 2, 3, 4, 5;
                """;
            yield return $"""
                INSERT INTO quality_rollups ("Hour", "PresetName", "Provider", "Model", "Evaluations", "ScoreSum", "Passed", "Errors", "JudgeCostNanoUsd")
                SELECT {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", COUNT(*), SUM(e."Score"), COUNT(*) FILTER (WHERE e."Passed"),
                    COUNT(e."Error"), COALESCE(SUM(e."JudgeCostNanoUsd"), 0)
                FROM evaluations e JOIN runs r ON r."Id" = e."RunId" GROUP BY 1, 2, 3, 4;
                """;
            yield return $"""
                INSERT INTO quality_metric_rollups ("Hour", "PresetName", "Provider", "Model", "Name", "Sum", "Count")
                SELECT {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", m."Name", SUM(m."NormalizedScore"), COUNT(*)
                FROM evaluation_metrics m JOIN evaluations e ON e."RunId" = m."RunId" JOIN runs r ON r."Id" = e."RunId"
                WHERE m."NormalizedScore" IS NOT NULL GROUP BY 1, 2, 3, 4, 5;
                """;
            yield return """
                UPDATE sessions SET "RunCount" = a.n, "EvalRuns" = a.eval, "Tokens" = a.tokens, "PricedRuns" = a.priced, "UnpricedRuns" = a.unpriced,
                    "CostNanoUsd" = a.cost
                FROM (SELECT "SessionId", COUNT(*) AS n, COUNT(*) FILTER (WHERE "Purpose" = 'eval') AS eval, SUM("InputTokens" + "OutputTokens") AS tokens,
                             COUNT("CostNanoUsd") AS priced, COUNT(*) FILTER (WHERE "CostNanoUsd" IS NULL AND "InputTokens" + "OutputTokens" > 0) AS unpriced,
                             COALESCE(SUM("CostNanoUsd"), 0) AS cost
                      FROM runs GROUP BY "SessionId") AS a
                WHERE sessions."Id" = a."SessionId";
                """;
            yield return """
                UPDATE sessions SET "ScoreSum" = a.total, "Scored" = a.n
                FROM (SELECT r."SessionId", SUM(e."Score") AS total, COUNT(*) AS n FROM evaluations e JOIN runs r ON r."Id" = e."RunId" GROUP BY r."SessionId") AS a
                WHERE sessions."Id" = a."SessionId";
                """;
            yield return """
                UPDATE sessions SET "FeedbackUp" = a.up, "FeedbackDown" = a.down
                FROM (SELECT r."SessionId", COUNT(*) FILTER (WHERE f."Rating" > 0) AS up, COUNT(*) FILTER (WHERE f."Rating" < 0) AS down
                      FROM run_feedback f JOIN runs r ON r."Id" = f."RunId" GROUP BY r."SessionId") AS a
                WHERE sessions."Id" = a."SessionId";
                """;
        }
    }
}
