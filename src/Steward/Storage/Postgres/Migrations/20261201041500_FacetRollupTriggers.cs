using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: the triggers that keep run_facet_rollups (by status, user and tag, with ratings) and first_token_rollups
    /// in step with every write to runs, run_tags and run_feedback, in the same transaction, one upsert per rollup row a
    /// run counts in; then fills them from the rows already stored (idempotent: it clears them first).
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261201041500_FacetRollupTriggers")]
    public partial class FacetRollupTriggers : Migration
    {
        private const string Day = "date_trunc('day', {0}, 'UTC')";

        private const string Key = "\"Facet\", \"Value\", \"Day\", \"PresetName\", \"Provider\", \"Model\", \"Status\"";

        private const string Columns = Key + ", \"Runs\", \"PricedRuns\", \"UnpricedRuns\", \"CostNanoUsd\", \"UncachedInput\", \"CachedInput\", " +
            "\"NonReasoningOutput\", \"Reasoning\", \"FeedbackUp\", \"FeedbackDown\"";

        private const string Upsert = "ON CONFLICT (" + Key + ") DO UPDATE SET \"Runs\" = run_facet_rollups.\"Runs\" + EXCLUDED.\"Runs\", " +
            "\"PricedRuns\" = run_facet_rollups.\"PricedRuns\" + EXCLUDED.\"PricedRuns\", \"UnpricedRuns\" = run_facet_rollups.\"UnpricedRuns\" + EXCLUDED.\"UnpricedRuns\", " +
            "\"CostNanoUsd\" = run_facet_rollups.\"CostNanoUsd\" + EXCLUDED.\"CostNanoUsd\", \"UncachedInput\" = run_facet_rollups.\"UncachedInput\" + EXCLUDED.\"UncachedInput\", " +
            "\"CachedInput\" = run_facet_rollups.\"CachedInput\" + EXCLUDED.\"CachedInput\", " +
            "\"NonReasoningOutput\" = run_facet_rollups.\"NonReasoningOutput\" + EXCLUDED.\"NonReasoningOutput\", " +
            "\"Reasoning\" = run_facet_rollups.\"Reasoning\" + EXCLUDED.\"Reasoning\", \"FeedbackUp\" = run_facet_rollups.\"FeedbackUp\" + EXCLUDED.\"FeedbackUp\", " +
            "\"FeedbackDown\" = run_facet_rollups.\"FeedbackDown\" + EXCLUDED.\"FeedbackDown\"";

        /// <summary>A run row <c>r</c>'s values times <c>s</c>, its rating included.</summary>
        private static readonly string Share = $"""
            {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", r."Status", s, s * (r."CostNanoUsd" IS NOT NULL)::int,
            s * (r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0)::int, s * COALESCE(r."CostNanoUsd", 0),
            s * (r."InputTokens" - r."CachedInputTokens"), s * r."CachedInputTokens", s * (r."OutputTokens" - r."ReasoningTokens"), s * r."ReasoningTokens",
            s * COALESCE((SELECT (fb."Rating" > 0)::int FROM run_feedback fb WHERE fb."RunId" = r."Id"), 0),
            s * COALESCE((SELECT (fb."Rating" < 0)::int FROM run_feedback fb WHERE fb."RunId" = r."Id"), 0)
            """;

        /// <summary>The facets run <c>r</c> counts under: every run (""), its user, each of its tags.</summary>
        private const string Facets = """
            SELECT ''::text AS facet, ''::text AS val UNION ALL SELECT 'user', r."UserId" WHERE r."UserId" IS NOT NULL
            UNION ALL SELECT 'tag', t."Tag" FROM run_tags t WHERE t."RunId" = r."Id"
            """;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_rollup_facets(r runs, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO run_facet_rollups ({Columns})
                    SELECT d.facet, d.val, {Share} FROM ({Facets}) AS d
                    {Upsert};
                    IF s < 0 THEN
                        DELETE FROM run_facet_rollups WHERE ("Facet", "Value") IN ({Facets}) AND "Day" = {F(Day, "r.\"StartedAt\"")}
                            AND "PresetName" = r."PresetName" AND "Provider" = r."Provider" AND "Model" = r."Model" AND "Status" = r."Status" AND "Runs" = 0;
                    END IF;
                    IF r."TimeToFirstTokenMs" IS NOT NULL THEN
                        INSERT INTO first_token_rollups ("Day", "PresetName", "Provider", "Model", "Bucket", "Runs")
                        VALUES ({F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model",
                            (SELECT "Bucket" FROM latency_buckets WHERE "LowerMs" <= r."TimeToFirstTokenMs" ORDER BY "LowerMs" DESC LIMIT 1), s)
                        ON CONFLICT ("Day", "PresetName", "Provider", "Model", "Bucket") DO UPDATE SET "Runs" = first_token_rollups."Runs" + EXCLUDED."Runs";
                        IF s < 0 THEN
                            DELETE FROM first_token_rollups WHERE ("Day", "PresetName", "Provider", "Model") = ({F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model")
                                AND "Runs" = 0;
                        END IF;
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_rollup_tag(tag run_tags, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO run_facet_rollups ({Columns})
                    SELECT 'tag', tag."Tag", {Share} FROM runs r WHERE r."Id" = tag."RunId"
                    {Upsert};
                    IF s < 0 THEN
                        DELETE FROM run_facet_rollups x USING runs r WHERE r."Id" = tag."RunId" AND x."Facet" = 'tag' AND x."Value" = tag."Tag"
                            AND x."Day" = {F(Day, "r.\"StartedAt\"")} AND x."PresetName" = r."PresetName" AND x."Provider" = r."Provider" AND x."Model" = r."Model"
                            AND x."Status" = r."Status" AND x."Runs" = 0;
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_rollup_facet_feedback(f run_feedback, s integer) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO run_facet_rollups ({Columns})
                    SELECT d.facet, d.val, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", r."Status", 0, 0, 0, 0, 0, 0, 0, 0,
                        s * (f."Rating" > 0)::int, s * (f."Rating" < 0)::int
                    FROM runs r CROSS JOIN LATERAL ({Facets}) AS d WHERE r."Id" = f."RunId"
                    {Upsert};
                END $$;
                """);
            migrationBuilder.Sql("""
                CREATE FUNCTION steward_runs_facets() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' AND TG_WHEN = 'BEFORE' THEN
                        -- A run's tags go first, while the run still tells which day, agent and model they count for.
                        DELETE FROM run_tags WHERE "RunId" = OLD."Id";
                        RETURN OLD;
                    END IF;
                    IF TG_OP <> 'INSERT' THEN
                        PERFORM steward_rollup_facets(OLD, -1);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        PERFORM steward_rollup_facets(NEW, 1);
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER rollup_runs_facets_before_delete BEFORE DELETE ON runs FOR EACH ROW EXECUTE FUNCTION steward_runs_facets();
                -- Only the columns the facet rollups hold: a run's other updates (evaluation status, cancel requests) cost nothing here.
                CREATE TRIGGER rollup_runs_facets AFTER INSERT OR DELETE OR UPDATE OF "StartedAt", "PresetName", "Provider", "Model", "Status", "CostNanoUsd",
                    "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "UserId", "TimeToFirstTokenMs"
                    ON runs FOR EACH ROW EXECUTE FUNCTION steward_runs_facets();
                CREATE FUNCTION steward_tags_facets() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        PERFORM steward_rollup_tag(OLD, -1);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        PERFORM steward_rollup_tag(NEW, 1);
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER rollup_tags_facets AFTER INSERT OR UPDATE OR DELETE ON run_tags FOR EACH ROW EXECUTE FUNCTION steward_tags_facets();
                CREATE FUNCTION steward_feedback_facets() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        PERFORM steward_rollup_facet_feedback(OLD, -1);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        PERFORM steward_rollup_facet_feedback(NEW, 1);
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER rollup_feedback_facets AFTER INSERT OR UPDATE OR DELETE ON run_feedback FOR EACH ROW EXECUTE FUNCTION steward_feedback_facets();
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
                DROP TRIGGER IF EXISTS rollup_runs_facets_before_delete ON runs;
                DROP TRIGGER IF EXISTS rollup_runs_facets ON runs;
                DROP TRIGGER IF EXISTS rollup_tags_facets ON run_tags;
                DROP TRIGGER IF EXISTS rollup_feedback_facets ON run_feedback;
                DROP FUNCTION IF EXISTS steward_runs_facets();
                DROP FUNCTION IF EXISTS steward_tags_facets();
                DROP FUNCTION IF EXISTS steward_feedback_facets();
                DROP FUNCTION IF EXISTS steward_rollup_facets(runs, integer);
                DROP FUNCTION IF EXISTS steward_rollup_tag(run_tags, integer);
                DROP FUNCTION IF EXISTS steward_rollup_facet_feedback(run_feedback, integer);
                """);
        }

        private static string F(string format, string value) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, value);

        /// <summary>Fills the facet and first-token rollups from the rows already stored (from scratch, so running it again is harmless).</summary>
        private static IEnumerable<string> Backfill()
        {
            yield return "DELETE FROM run_facet_rollups; DELETE FROM first_token_rollups;";
            const string Sums = """
                COUNT(*), COUNT(r."CostNanoUsd"), COUNT(*) FILTER (WHERE r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0),
                COALESCE(SUM(r."CostNanoUsd"), 0), SUM(r."InputTokens" - r."CachedInputTokens"), SUM(r."CachedInputTokens"),
                SUM(r."OutputTokens" - r."ReasoningTokens"), SUM(r."ReasoningTokens"), COUNT(*) FILTER (WHERE fb."Rating" > 0), COUNT(*) FILTER (WHERE fb."Rating" < 0)
                """;
            var key = $"{F(Day, "r.\"StartedAt\"")}, r.\"PresetName\", r.\"Provider\", r.\"Model\", r.\"Status\"";
            yield return $"""
                INSERT INTO run_facet_rollups ({Columns})
                SELECT '', '', {key}, {Sums} FROM runs r LEFT JOIN run_feedback fb ON fb."RunId" = r."Id" GROUP BY 3, 4, 5, 6, 7;
                """;
            yield return $"""
                INSERT INTO run_facet_rollups ({Columns})
                SELECT 'user', r."UserId", {key}, {Sums} FROM runs r LEFT JOIN run_feedback fb ON fb."RunId" = r."Id" WHERE r."UserId" IS NOT NULL
                GROUP BY 2, 3, 4, 5, 6, 7;
                """;
            yield return $"""
                INSERT INTO run_facet_rollups ({Columns})
                SELECT 'tag', t."Tag", {key}, {Sums} FROM run_tags t JOIN runs r ON r."Id" = t."RunId" LEFT JOIN run_feedback fb ON fb."RunId" = r."Id"
                GROUP BY 2, 3, 4, 5, 6, 7;
                """;
            yield return $"""
                INSERT INTO first_token_rollups ("Day", "PresetName", "Provider", "Model", "Bucket", "Runs")
                SELECT {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model",
                    (SELECT "Bucket" FROM latency_buckets WHERE "LowerMs" <= r."TimeToFirstTokenMs" ORDER BY "LowerMs" DESC LIMIT 1), COUNT(*)
                FROM runs r WHERE r."TimeToFirstTokenMs" IS NOT NULL GROUP BY 1, 2, 3, 4, 5;
                """;
        }
    }
}
