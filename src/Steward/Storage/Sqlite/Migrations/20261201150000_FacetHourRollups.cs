using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: a user's and a tag's cost and quality by UTC hour (facet_hour_rollups, facet_quality_hour_rollups,
    /// facet_quality_metric_hour_rollups), so a report whose days begin in any whole-hour time zone (Paris, New York, Tokyo)
    /// sums its own days from them instead of reading the user's or tag's raw runs, which the UTC-day facet rollups cannot
    /// split. Kept by triggers in the transaction of every write to runs, run_tags, evaluations and evaluation_metrics, one
    /// upsert per row a write counts in; then filled from the rows already stored (idempotent: it clears them first). Read by
    /// raw SQL only, so the EF model does not hold them.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261201150000_FacetHourRollups")]
    public partial class FacetHourRollups : Migration
    {
        private const string Hour = "substr({0}, 1, 13) || ':00:00'";

        private const string Key = "\"Facet\", \"Value\", \"Hour\", \"PresetName\", \"Provider\", \"Model\"";

        private const string CostColumns = Key + ", \"Runs\", \"PricedRuns\", \"UnpricedRuns\", \"CostNanoUsd\", \"UncachedInput\", \"CachedInput\", " +
            "\"NonReasoningOutput\", \"Reasoning\"";

        private const string CostUpsert = "ON CONFLICT (" + Key + ") DO UPDATE SET \"Runs\" = \"Runs\" + excluded.\"Runs\", " +
            "\"PricedRuns\" = \"PricedRuns\" + excluded.\"PricedRuns\", \"UnpricedRuns\" = \"UnpricedRuns\" + excluded.\"UnpricedRuns\", " +
            "\"CostNanoUsd\" = \"CostNanoUsd\" + excluded.\"CostNanoUsd\", \"UncachedInput\" = \"UncachedInput\" + excluded.\"UncachedInput\", " +
            "\"CachedInput\" = \"CachedInput\" + excluded.\"CachedInput\", \"NonReasoningOutput\" = \"NonReasoningOutput\" + excluded.\"NonReasoningOutput\", " +
            "\"Reasoning\" = \"Reasoning\" + excluded.\"Reasoning\"";

        private const string QualityColumns = Key + ", \"Evaluations\", \"ScoreSum\", \"Passed\", \"Errors\", \"JudgeCostNanoUsd\"";

        private const string QualityUpsert = "ON CONFLICT (" + Key + ") DO UPDATE SET \"Evaluations\" = \"Evaluations\" + excluded.\"Evaluations\", " +
            "\"ScoreSum\" = \"ScoreSum\" + excluded.\"ScoreSum\", \"Passed\" = \"Passed\" + excluded.\"Passed\", \"Errors\" = \"Errors\" + excluded.\"Errors\", " +
            "\"JudgeCostNanoUsd\" = \"JudgeCostNanoUsd\" + excluded.\"JudgeCostNanoUsd\"";

        private const string MetricUpsert = "ON CONFLICT (" + Key + ", \"Name\") DO UPDATE SET \"Sum\" = \"Sum\" + excluded.\"Sum\", \"Count\" = \"Count\" + excluded.\"Count\"";

        /// <summary>The columns whose change moves a run's whole share to another row.</summary>
        private const string Moved = "OLD.\"StartedAt\" IS NOT NEW.\"StartedAt\" OR OLD.\"PresetName\" IS NOT NEW.\"PresetName\" OR OLD.\"Provider\" IS NOT NEW.\"Provider\" " +
            "OR OLD.\"Model\" IS NOT NEW.\"Model\" OR OLD.\"UserId\" IS NOT NEW.\"UserId\"";

        private static readonly string[] TriggerNames =
        [
            "runs_insert", "runs_move", "runs_usage", "runs_delete", "runs_move_quality", "tags_insert", "tags_delete", "evaluations_insert", "evaluations_update",
            "evaluations_before_delete", "metrics_insert", "metrics_update", "metrics_delete",
        ];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Read by key ranges only (a facet and value, then hours): stored as their key (WITHOUT ROWID), as the other rollups are.
            migrationBuilder.Sql("""
                CREATE TABLE facet_hour_rollups ("Facet" TEXT NOT NULL, "Value" TEXT NOT NULL, "Hour" TEXT NOT NULL, "PresetName" TEXT NOT NULL,
                    "Provider" TEXT NOT NULL, "Model" TEXT NOT NULL, "Runs" INTEGER NOT NULL, "PricedRuns" INTEGER NOT NULL, "UnpricedRuns" INTEGER NOT NULL,
                    "CostNanoUsd" INTEGER NOT NULL, "UncachedInput" INTEGER NOT NULL, "CachedInput" INTEGER NOT NULL, "NonReasoningOutput" INTEGER NOT NULL,
                    "Reasoning" INTEGER NOT NULL,
                    CONSTRAINT "PK_facet_hour_rollups" PRIMARY KEY ("Facet", "Value", "Hour", "PresetName", "Provider", "Model")) WITHOUT ROWID;
                """);
            migrationBuilder.Sql("""
                CREATE TABLE facet_quality_hour_rollups ("Facet" TEXT NOT NULL, "Value" TEXT NOT NULL, "Hour" TEXT NOT NULL, "PresetName" TEXT NOT NULL,
                    "Provider" TEXT NOT NULL, "Model" TEXT NOT NULL, "Evaluations" INTEGER NOT NULL, "ScoreSum" REAL NOT NULL, "Passed" INTEGER NOT NULL,
                    "Errors" INTEGER NOT NULL, "JudgeCostNanoUsd" INTEGER NOT NULL,
                    CONSTRAINT "PK_facet_quality_hour_rollups" PRIMARY KEY ("Facet", "Value", "Hour", "PresetName", "Provider", "Model")) WITHOUT ROWID;
                """);
            migrationBuilder.Sql("""
                CREATE TABLE facet_quality_metric_hour_rollups ("Facet" TEXT NOT NULL, "Value" TEXT NOT NULL, "Hour" TEXT NOT NULL, "PresetName" TEXT NOT NULL,
                    "Provider" TEXT NOT NULL, "Model" TEXT NOT NULL, "Name" TEXT NOT NULL, "Sum" REAL NOT NULL, "Count" INTEGER NOT NULL,
                    CONSTRAINT "PK_facet_quality_metric_hour_rollups" PRIMARY KEY ("Facet", "Value", "Hour", "PresetName", "Provider", "Model", "Name")) WITHOUT ROWID;
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
            foreach (var trigger in TriggerNames)
            {
                migrationBuilder.Sql($"DROP TRIGGER IF EXISTS facet_hours_{trigger};");
            }

            migrationBuilder.Sql("DROP TABLE IF EXISTS facet_hour_rollups; DROP TABLE IF EXISTS facet_quality_hour_rollups; DROP TABLE IF EXISTS facet_quality_metric_hour_rollups;");
        }

        private static string F(string format, string value) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, value);

        /// <summary>The facets (user, tags) of the run <paramref name="id"/> made for <paramref name="user"/>, as rows (f, v).</summary>
        private static string Facets(string id, string user) => $"""
            SELECT 'user' AS f, {user} AS v WHERE {user} IS NOT NULL
            UNION ALL SELECT 'tag', t."Tag" FROM run_tags t WHERE t."RunId" = {id}
            """;

        private static string RunFacets(string r) => Facets(r + ".\"Id\"", r + ".\"UserId\"");

        /// <summary>Run row <paramref name="r"/>'s cost share (times <paramref name="s"/>) under <paramref name="facets"/>, from <paramref name="from"/>.</summary>
        private static string Cost(string r, string s, string facets, string from = "WHERE true")
        {
            var sql = $"""
                INSERT INTO facet_hour_rollups ({CostColumns})
                SELECT d.f, d.v, {F(Hour, r + ".\"StartedAt\"")}, {r}."PresetName", {r}."Provider", {r}."Model", {s}, {s} * ({r}."CostNanoUsd" IS NOT NULL),
                    {s} * ({r}."CostNanoUsd" IS NULL AND {r}."InputTokens" + {r}."OutputTokens" > 0), {s} * COALESCE({r}."CostNanoUsd", 0),
                    {s} * ({r}."InputTokens" - {r}."CachedInputTokens"), {s} * {r}."CachedInputTokens", {s} * ({r}."OutputTokens" - {r}."ReasoningTokens"),
                    {s} * {r}."ReasoningTokens"
                FROM ({facets}) AS d {from}
                {CostUpsert};
                """;
            return s == "1" ? sql : sql + $"""

                DELETE FROM facet_hour_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Runs" = 0
                    AND ("Hour", "PresetName", "Provider", "Model") IN (SELECT {F(Hour, r + ".\"StartedAt\"")}, {r}."PresetName", {r}."Provider", {r}."Model" FROM (SELECT 1) {from});
                """;
        }

        /// <summary>
        /// The quality share (times <paramref name="s"/>) of the evaluations <paramref name="from"/> yields as <c>e</c> (with its run's
        /// <paramref name="provider"/> and <paramref name="model"/>) and of their metrics, under <paramref name="facets"/>.
        /// </summary>
        private static string Quality(string s, string from, string provider, string model, string facets)
        {
            var key = $"d.f, d.v, {F(Hour, "e.\"EvaluatedAt\"")}, e.\"PresetName\", {provider}, {model}";
            var sql = $"""
                INSERT INTO facet_quality_hour_rollups ({QualityColumns})
                SELECT {key}, {s}, {s} * e."Score", {s} * (e."Passed" <> 0), {s} * (e."Error" IS NOT NULL), {s} * COALESCE(e."JudgeCostNanoUsd", 0)
                FROM ({facets}) AS d, {from}
                {QualityUpsert};
                INSERT INTO facet_quality_metric_hour_rollups ({Key}, "Name", "Sum", "Count")
                SELECT {key}, m."Name", {s} * SUM(m."NormalizedScore"), {s} * COUNT(*)
                FROM ({facets}) AS d, evaluation_metrics m, {from} AND m."RunId" = e."RunId" AND m."NormalizedScore" IS NOT NULL
                GROUP BY d.f, d.v, m."Name"
                {MetricUpsert};
                """;
            return s == "1" ? sql : sql + $"""

                DELETE FROM facet_quality_hour_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Evaluations" = 0
                    AND "Hour" IN (SELECT {F(Hour, "e.\"EvaluatedAt\"")} FROM {from});
                DELETE FROM facet_quality_metric_hour_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Count" = 0
                    AND "Hour" IN (SELECT {F(Hour, "e.\"EvaluatedAt\"")} FROM {from});
                """;
        }

        /// <summary>Takes away the quality share of evaluation row <paramref name="e"/> (OLD) as it was, with its metrics as stored.</summary>
        private static string Old(string e, string facets)
        {
            var key = $"d.f, d.v, {F(Hour, e + ".\"EvaluatedAt\"")}, {e}.\"PresetName\", r.\"Provider\", r.\"Model\"";
            var from = $"runs r WHERE r.\"Id\" = {e}.\"RunId\"";
            return $"""
                INSERT INTO facet_quality_hour_rollups ({QualityColumns})
                SELECT {key}, -1, -{e}."Score", -({e}."Passed" <> 0), -({e}."Error" IS NOT NULL), -COALESCE({e}."JudgeCostNanoUsd", 0)
                FROM ({facets}) AS d, {from}
                {QualityUpsert};
                INSERT INTO facet_quality_metric_hour_rollups ({Key}, "Name", "Sum", "Count")
                SELECT {key}, m."Name", -SUM(m."NormalizedScore"), -COUNT(*)
                FROM ({facets}) AS d, evaluation_metrics m, {from} AND m."RunId" = {e}."RunId" AND m."NormalizedScore" IS NOT NULL
                GROUP BY d.f, d.v, m."Name"
                {MetricUpsert};
                DELETE FROM facet_quality_hour_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Evaluations" = 0 AND "Hour" = {F(Hour, e + ".\"EvaluatedAt\"")};
                DELETE FROM facet_quality_metric_hour_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Count" = 0 AND "Hour" = {F(Hour, e + ".\"EvaluatedAt\"")};
                """;
        }

        /// <summary>One metric row's share under its run's facets (through its evaluation).</summary>
        private static string Metric(string m, string s)
        {
            var facets = Facets($"{m}.\"RunId\"", $"(SELECT u.\"UserId\" FROM runs u WHERE u.\"Id\" = {m}.\"RunId\")");
            var sql = $"""
                INSERT INTO facet_quality_metric_hour_rollups ({Key}, "Name", "Sum", "Count")
                SELECT d.f, d.v, {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", {m}."Name", {s} * {m}."NormalizedScore", {s}
                FROM ({facets}) AS d, evaluations e JOIN runs r ON r."Id" = e."RunId"
                WHERE e."RunId" = {m}."RunId" AND {m}."NormalizedScore" IS NOT NULL
                {MetricUpsert};
                """;
            return s == "1" ? sql : sql + $"""

                DELETE FROM facet_quality_metric_hour_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Name" = {m}."Name" AND "Count" = 0
                    AND "Hour" IN (SELECT {F(Hour, "e.\"EvaluatedAt\"")} FROM evaluations e WHERE e."RunId" = {m}."RunId");
                """;
        }

        /// <summary>
        /// The trigger that adds a run's extra usage to its user's and tags' hours when it did not move (the writer finishing
        /// it), its WHEN clause ending in <paramref name="guard"/> (empty, or <c> AND</c> and a condition).
        /// </summary>
        internal static string UsageTrigger(string guard) =>
            $"CREATE TRIGGER facet_hours_runs_usage AFTER UPDATE OF \"CostNanoUsd\", \"InputTokens\", \"CachedInputTokens\", \"OutputTokens\", \"ReasoningTokens\" ON runs WHEN NOT ({Moved}) " +
                "AND (OLD.\"CostNanoUsd\" IS NOT NEW.\"CostNanoUsd\" OR OLD.\"InputTokens\" IS NOT NEW.\"InputTokens\" OR OLD.\"CachedInputTokens\" IS NOT NEW.\"CachedInputTokens\" " +
                $"OR OLD.\"OutputTokens\" IS NOT NEW.\"OutputTokens\" OR OLD.\"ReasoningTokens\" IS NOT NEW.\"ReasoningTokens\"){guard} BEGIN\n" +
                $"""
                INSERT INTO facet_hour_rollups ({CostColumns})
                SELECT d.f, d.v, {F(Hour, "NEW.\"StartedAt\"")}, NEW."PresetName", NEW."Provider", NEW."Model", 0,
                    (NEW."CostNanoUsd" IS NOT NULL) - (OLD."CostNanoUsd" IS NOT NULL),
                    (NEW."CostNanoUsd" IS NULL AND NEW."InputTokens" + NEW."OutputTokens" > 0) - (OLD."CostNanoUsd" IS NULL AND OLD."InputTokens" + OLD."OutputTokens" > 0),
                    COALESCE(NEW."CostNanoUsd", 0) - COALESCE(OLD."CostNanoUsd", 0),
                    (NEW."InputTokens" - NEW."CachedInputTokens") - (OLD."InputTokens" - OLD."CachedInputTokens"), NEW."CachedInputTokens" - OLD."CachedInputTokens",
                    (NEW."OutputTokens" - NEW."ReasoningTokens") - (OLD."OutputTokens" - OLD."ReasoningTokens"), NEW."ReasoningTokens" - OLD."ReasoningTokens"
                FROM ({RunFacets("NEW")}) AS d WHERE true
                {CostUpsert};
                """ + "\nEND;";

        private static IEnumerable<string> Triggers()
        {
            static string Trigger(string name, string when, string body) => $"CREATE TRIGGER facet_hours_{name} {when} BEGIN\n{body}\nEND;";
            static string EvaluationFacets(string e) => Facets(e + ".\"RunId\"", $"(SELECT u.\"UserId\" FROM runs u WHERE u.\"Id\" = {e}.\"RunId\")");
            static string OwnRun(string e) => $"evaluations e JOIN runs r ON r.\"Id\" = e.\"RunId\" WHERE e.\"RunId\" = {e}.\"RunId\"";
            static string TagFacet(string t) => $"SELECT 'tag' AS f, {t}.\"Tag\" AS v";
            static string TagRun(string t) => $", runs r WHERE r.\"Id\" = {t}.\"RunId\"";

            // A new run has no tags yet (they follow it): its user's share.
            yield return Trigger("runs_insert", "AFTER INSERT ON runs", Cost("NEW", "1", RunFacets("NEW")));
            // Moved to another hour, agent, model or user: its whole share moves (and rows left counting nothing go).
            yield return Trigger("runs_move", $"AFTER UPDATE OF \"StartedAt\", \"PresetName\", \"Provider\", \"Model\", \"UserId\" ON runs WHEN {Moved}",
                Cost("OLD", "-1", RunFacets("OLD")) + Cost("NEW", "1", RunFacets("NEW")));
            // Only used more (the writer finishing it): one upsert of the difference per facet, nothing to prune.
            yield return UsageTrigger("");
            // A deleted run's tags went first (facets_runs_before_delete), taking their share; its user's share goes here.
            yield return Trigger("runs_delete", "AFTER DELETE ON runs", Cost("OLD", "-1", RunFacets("OLD")));
            // A scored run given another user, provider or model takes its evaluation's share along.
            const string Scored = "evaluations e WHERE e.\"RunId\" = NEW.\"Id\"";
            yield return Trigger("runs_move_quality",
                "AFTER UPDATE OF \"UserId\", \"Provider\", \"Model\" ON runs " +
                "WHEN OLD.\"UserId\" IS NOT NEW.\"UserId\" OR OLD.\"Provider\" IS NOT NEW.\"Provider\" OR OLD.\"Model\" IS NOT NEW.\"Model\"",
                Quality("-1", Scored, "OLD.\"Provider\"", "OLD.\"Model\"", RunFacets("OLD")) + Quality("1", Scored, "NEW.\"Provider\"", "NEW.\"Model\"", RunFacets("NEW")));
            yield return Trigger("tags_insert", "AFTER INSERT ON run_tags",
                Cost("r", "1", TagFacet("NEW"), TagRun("NEW")) + Quality("1", OwnRun("NEW"), "r.\"Provider\"", "r.\"Model\"", TagFacet("NEW")));
            // Before the row goes, while the run still tells which hour, agent and model the tag counted for.
            yield return Trigger("tags_delete", "BEFORE DELETE ON run_tags",
                Cost("r", "-1", TagFacet("OLD"), TagRun("OLD")) + Quality("-1", OwnRun("OLD"), "r.\"Provider\"", "r.\"Model\"", TagFacet("OLD")));
            const string NewOwnRun = "runs r, evaluations e WHERE r.\"Id\" = NEW.\"RunId\" AND e.\"RunId\" = NEW.\"RunId\"";
            yield return Trigger("evaluations_insert", "AFTER INSERT ON evaluations", Quality("1", NewOwnRun, "r.\"Provider\"", "r.\"Model\"", EvaluationFacets("NEW")));
            yield return Trigger("evaluations_update", "AFTER UPDATE ON evaluations",
                Old("OLD", EvaluationFacets("OLD")) + Quality("1", NewOwnRun, "r.\"Provider\"", "r.\"Model\"", EvaluationFacets("NEW")));
            // Before the row goes, with its metrics (their own delete triggers then find no evaluation to take from).
            yield return Trigger("evaluations_before_delete", "BEFORE DELETE ON evaluations", Old("OLD", EvaluationFacets("OLD")));
            yield return Trigger("metrics_insert", "AFTER INSERT ON evaluation_metrics", Metric("NEW", "1"));
            yield return Trigger("metrics_update", "AFTER UPDATE ON evaluation_metrics", Metric("OLD", "-1") + Metric("NEW", "1"));
            yield return Trigger("metrics_delete", "AFTER DELETE ON evaluation_metrics", Metric("OLD", "-1"));
        }

        /// <summary>Fills the three tables from the rows already stored, one grouped pass each (from scratch, so running it again is harmless).</summary>
        private static IEnumerable<string> Backfill()
        {
            yield return "DELETE FROM facet_hour_rollups; DELETE FROM facet_quality_hour_rollups; DELETE FROM facet_quality_metric_hour_rollups;";
            foreach (var (facet, source) in ((string, string)[])[("'user', r.\"UserId\"", "runs r WHERE r.\"UserId\" IS NOT NULL"),
                ("'tag', t.\"Tag\"", "run_tags t JOIN runs r ON r.\"Id\" = t.\"RunId\"")])
            {
                yield return $"""
                    INSERT INTO facet_hour_rollups ({CostColumns})
                    SELECT {facet}, {F(Hour, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", COUNT(*), COUNT(r."CostNanoUsd"),
                        SUM(r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0), COALESCE(SUM(r."CostNanoUsd"), 0),
                        SUM(r."InputTokens" - r."CachedInputTokens"), SUM(r."CachedInputTokens"), SUM(r."OutputTokens" - r."ReasoningTokens"), SUM(r."ReasoningTokens")
                    FROM {source}
                    GROUP BY 1, 2, 3, 4, 5, 6;
                    """;
            }

            // The facets of every run, as (f, v, id): its user, each of its tags.
            const string RunFacetRows = """
                (SELECT 'user' AS f, "UserId" AS v, "Id" AS id FROM runs WHERE "UserId" IS NOT NULL UNION ALL SELECT 'tag', "Tag", "RunId" FROM run_tags)
                """;
            yield return $"""
                INSERT INTO facet_quality_hour_rollups ({QualityColumns})
                SELECT d.f, d.v, {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", COUNT(*), SUM(e."Score"), SUM(e."Passed" <> 0),
                    SUM(e."Error" IS NOT NULL), COALESCE(SUM(e."JudgeCostNanoUsd"), 0)
                FROM {RunFacetRows} AS d JOIN evaluations e ON e."RunId" = d.id JOIN runs r ON r."Id" = e."RunId"
                GROUP BY 1, 2, 3, 4, 5, 6;
                """;
            yield return $"""
                INSERT INTO facet_quality_metric_hour_rollups ({Key}, "Name", "Sum", "Count")
                SELECT d.f, d.v, {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", m."Name", SUM(m."NormalizedScore"), COUNT(*)
                FROM {RunFacetRows} AS d JOIN evaluations e ON e."RunId" = d.id JOIN runs r ON r."Id" = e."RunId"
                    JOIN evaluation_metrics m ON m."RunId" = e."RunId" AND m."NormalizedScore" IS NOT NULL
                GROUP BY 1, 2, 3, 4, 5, 6, 7;
                """;
        }
    }
}
