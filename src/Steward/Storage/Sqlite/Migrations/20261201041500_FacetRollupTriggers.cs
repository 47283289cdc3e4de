using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: the triggers that keep run_facet_rollups (by status, user and tag, with ratings) and first_token_rollups
    /// in step with every write to runs, run_tags and run_feedback, in the same transaction, one upsert per rollup row a
    /// run counts in; then fills them from the rows already stored (idempotent: it clears them first).
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261201041500_FacetRollupTriggers")]
    public partial class FacetRollupTriggers : Migration
    {
        private const string Day = "substr({0}, 1, 10) || ' 00:00:00'";

        private const string Key = "\"Facet\", \"Value\", \"Day\", \"PresetName\", \"Provider\", \"Model\", \"Status\"";

        private const string Columns = Key + ", \"Runs\", \"PricedRuns\", \"UnpricedRuns\", \"CostNanoUsd\", \"UncachedInput\", \"CachedInput\", " +
            "\"NonReasoningOutput\", \"Reasoning\", \"FeedbackUp\", \"FeedbackDown\"";

        private const string Upsert = "ON CONFLICT (" + Key + ") DO UPDATE SET \"Runs\" = \"Runs\" + excluded.\"Runs\", " +
            "\"PricedRuns\" = \"PricedRuns\" + excluded.\"PricedRuns\", \"UnpricedRuns\" = \"UnpricedRuns\" + excluded.\"UnpricedRuns\", " +
            "\"CostNanoUsd\" = \"CostNanoUsd\" + excluded.\"CostNanoUsd\", \"UncachedInput\" = \"UncachedInput\" + excluded.\"UncachedInput\", " +
            "\"CachedInput\" = \"CachedInput\" + excluded.\"CachedInput\", \"NonReasoningOutput\" = \"NonReasoningOutput\" + excluded.\"NonReasoningOutput\", " +
            "\"Reasoning\" = \"Reasoning\" + excluded.\"Reasoning\", \"FeedbackUp\" = \"FeedbackUp\" + excluded.\"FeedbackUp\", " +
            "\"FeedbackDown\" = \"FeedbackDown\" + excluded.\"FeedbackDown\"";

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Read by key ranges only (a facet and value, then days): stored as their key (WITHOUT ROWID), as the other rollups are.
            migrationBuilder.Sql("DROP TABLE run_facet_rollups;");
            migrationBuilder.Sql("""
                CREATE TABLE run_facet_rollups ("Facet" TEXT NOT NULL, "Value" TEXT NOT NULL, "Day" TEXT NOT NULL, "PresetName" TEXT NOT NULL,
                    "Provider" TEXT NOT NULL, "Model" TEXT NOT NULL, "Status" TEXT NOT NULL, "Runs" INTEGER NOT NULL, "PricedRuns" INTEGER NOT NULL,
                    "UnpricedRuns" INTEGER NOT NULL, "CostNanoUsd" INTEGER NOT NULL, "UncachedInput" INTEGER NOT NULL, "CachedInput" INTEGER NOT NULL,
                    "NonReasoningOutput" INTEGER NOT NULL, "Reasoning" INTEGER NOT NULL, "FeedbackUp" INTEGER NOT NULL, "FeedbackDown" INTEGER NOT NULL,
                    CONSTRAINT "PK_run_facet_rollups" PRIMARY KEY ("Facet", "Value", "Day", "PresetName", "Provider", "Model", "Status")) WITHOUT ROWID;
                """);
            migrationBuilder.Sql("DROP TABLE first_token_rollups;");
            migrationBuilder.Sql("""
                CREATE TABLE first_token_rollups ("Day" TEXT NOT NULL, "PresetName" TEXT NOT NULL, "Provider" TEXT NOT NULL, "Model" TEXT NOT NULL,
                    "Bucket" INTEGER NOT NULL, "Runs" INTEGER NOT NULL,
                    CONSTRAINT "PK_first_token_rollups" PRIMARY KEY ("Day", "PresetName", "Provider", "Model", "Bucket")) WITHOUT ROWID;
                """);
            foreach (var sql in Triggers())
            {
                migrationBuilder.Sql(sql);
            }

            foreach (var sql in Backfill())
            {
                migrationBuilder.Sql(sql);
            }
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            foreach (var trigger in (string[])["runs_insert", "runs_update", "runs_before_delete", "runs_delete", "tags_insert", "tags_delete",
                "feedback_insert", "feedback_update", "feedback_delete"])
            {
                migrationBuilder.Sql($"DROP TRIGGER IF EXISTS facets_{trigger};");
            }
        }

        private static string F(string format, string value) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, value);

        /// <summary>The facets a run counts under: every run (""), its user, each of its tags.</summary>
        private static string Facets(string id, string user) => $"""
            SELECT '' AS f, '' AS v UNION ALL SELECT 'user', {user} WHERE {user} IS NOT NULL
            UNION ALL SELECT 'tag', t."Tag" FROM run_tags t WHERE t."RunId" = {id}
            """;

        /// <summary>A run row's values times <paramref name="s"/> (1 adds, -1 takes away), its rating included.</summary>
        private static string Share(string r, string s) => $"""
            {F(Day, r + ".\"StartedAt\"")}, {r}."PresetName", {r}."Provider", {r}."Model", {r}."Status", {s}, {s} * ({r}."CostNanoUsd" IS NOT NULL),
            {s} * ({r}."CostNanoUsd" IS NULL AND {r}."InputTokens" + {r}."OutputTokens" > 0), {s} * COALESCE({r}."CostNanoUsd", 0),
            {s} * ({r}."InputTokens" - {r}."CachedInputTokens"), {s} * {r}."CachedInputTokens", {s} * ({r}."OutputTokens" - {r}."ReasoningTokens"),
            {s} * {r}."ReasoningTokens", {s} * COALESCE((SELECT fb."Rating" > 0 FROM run_feedback fb WHERE fb."RunId" = {r}."Id"), 0),
            {s} * COALESCE((SELECT fb."Rating" < 0 FROM run_feedback fb WHERE fb."RunId" = {r}."Id"), 0)
            """;

        /// <summary>Rows of <paramref name="r"/>'s day, agent, model and status under the facets <paramref name="facets"/> that count nothing any more.</summary>
        private static string Prune(string r, string facets) => $"""
            DELETE FROM run_facet_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Day" = {F(Day, r + ".\"StartedAt\"")} AND "PresetName" = {r}."PresetName"
                AND "Provider" = {r}."Provider" AND "Model" = {r}."Model" AND "Status" = {r}."Status" AND "Runs" = 0;
            """;

        /// <summary>A run's share of every facet row and of first_token_rollups.</summary>
        private static string Run(string r, int sign)
        {
            var s = sign.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var facets = Facets(r + ".\"Id\"", r + ".\"UserId\"");
            var dayKey = $"{F(Day, r + ".\"StartedAt\"")}, {r}.\"PresetName\", {r}.\"Provider\", {r}.\"Model\"";
            var bucket = $"(SELECT \"Bucket\" FROM latency_buckets WHERE \"LowerMs\" <= {r}.\"TimeToFirstTokenMs\" ORDER BY \"LowerMs\" DESC LIMIT 1)";
            var sql = $"""
                INSERT INTO run_facet_rollups ({Columns})
                SELECT d.f, d.v, {Share(r, s)} FROM ({facets}) AS d WHERE true
                {Upsert};
                INSERT INTO first_token_rollups ("Day", "PresetName", "Provider", "Model", "Bucket", "Runs")
                SELECT {dayKey}, {bucket}, {s} WHERE {r}."TimeToFirstTokenMs" IS NOT NULL
                ON CONFLICT ("Day", "PresetName", "Provider", "Model", "Bucket") DO UPDATE SET "Runs" = "Runs" + excluded."Runs";
                """;
            return sign > 0 ? sql : sql + $"""

                {Prune(r, facets)}
                DELETE FROM first_token_rollups WHERE ("Day", "PresetName", "Provider", "Model", "Bucket") = ({dayKey}, {bucket}) AND "Runs" = 0;
                """;
        }

        /// <summary>A tag row's share: its run's values under that tag.</summary>
        private static string Tag(string t, int sign)
        {
            var s = sign.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var sql = $"""
                INSERT INTO run_facet_rollups ({Columns})
                SELECT 'tag', {t}."Tag", {Share("r", s)} FROM runs r WHERE r."Id" = {t}."RunId"
                {Upsert};
                """;
            return sign > 0 ? sql : sql + $"""

                DELETE FROM run_facet_rollups WHERE "Facet" = 'tag' AND "Value" = {t}."Tag" AND "Runs" = 0
                    AND ("Day", "PresetName", "Provider", "Model", "Status") IN (SELECT {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", r."Status"
                                                                              FROM runs r WHERE r."Id" = {t}."RunId");
                """;
        }

        /// <summary>A rating's share of its run's facet rows.</summary>
        private static string Feedback(string f, int sign)
        {
            var s = sign.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var facets = Facets($"{f}.\"RunId\"", $"(SELECT u.\"UserId\" FROM runs u WHERE u.\"Id\" = {f}.\"RunId\")");
            return $"""
                INSERT INTO run_facet_rollups ({Columns})
                SELECT d.f, d.v, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", r."Status", 0, 0, 0, 0, 0, 0, 0, 0,
                    {s} * ({f}."Rating" > 0), {s} * ({f}."Rating" < 0)
                FROM runs r JOIN ({facets}) AS d WHERE r."Id" = {f}."RunId"
                {Upsert};
                """;
        }

        private static IEnumerable<string> Triggers()
        {
            static string Trigger(string name, string when, string body) => $"CREATE TRIGGER facets_{name} {when} BEGIN\n{body}\nEND;";
            yield return Trigger("runs_insert", "AFTER INSERT ON runs", Run("NEW", 1));
            // Only the columns the facet rollups hold: a run's other updates (evaluation status, cancel requests) cost nothing here.
            yield return Trigger("runs_update",
                "AFTER UPDATE OF \"StartedAt\", \"PresetName\", \"Provider\", \"Model\", \"Status\", \"CostNanoUsd\", \"InputTokens\", \"CachedInputTokens\", " +
                "\"OutputTokens\", \"ReasoningTokens\", \"UserId\", \"TimeToFirstTokenMs\" ON runs",
                Run("OLD", -1) + Run("NEW", 1));
            // A run's tags go first, while the run still tells which day, agent and model they count for.
            yield return Trigger("runs_before_delete", "BEFORE DELETE ON runs", "DELETE FROM run_tags WHERE \"RunId\" = OLD.\"Id\";");
            yield return Trigger("runs_delete", "AFTER DELETE ON runs", Run("OLD", -1));
            yield return Trigger("tags_insert", "AFTER INSERT ON run_tags", Tag("NEW", 1));
            yield return Trigger("tags_delete", "BEFORE DELETE ON run_tags", Tag("OLD", -1));
            yield return Trigger("feedback_insert", "AFTER INSERT ON run_feedback", Feedback("NEW", 1));
            yield return Trigger("feedback_update", "AFTER UPDATE ON run_feedback", Feedback("OLD", -1) + Feedback("NEW", 1));
            yield return Trigger("feedback_delete", "AFTER DELETE ON run_feedback", Feedback("OLD", -1));
        }

        /// <summary>Fills the facet and first-token rollups from the rows already stored (from scratch, so running it again is harmless).</summary>
        private static IEnumerable<string> Backfill()
        {
            yield return "DELETE FROM run_facet_rollups; DELETE FROM first_token_rollups;";
            const string Sums = """
                COUNT(*), COUNT(r."CostNanoUsd"), SUM(r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0), COALESCE(SUM(r."CostNanoUsd"), 0),
                SUM(r."InputTokens" - r."CachedInputTokens"), SUM(r."CachedInputTokens"), SUM(r."OutputTokens" - r."ReasoningTokens"), SUM(r."ReasoningTokens"),
                COALESCE(SUM(fb."Rating" > 0), 0), COALESCE(SUM(fb."Rating" < 0), 0)
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
