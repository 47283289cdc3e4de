using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: what a user's or a tag's Analytics view still read from the runs themselves, kept by the database's
    /// triggers per facet (user, tag) and UTC day: the latency and time-to-first-token histograms (facet_histogram_rollups)
    /// and the quality of the runs' evaluations with each metric's mean (facet_quality_rollups, facet_quality_metric_rollups),
    /// in step with every write to runs, run_tags, evaluations and evaluation_metrics, in the same transaction, one upsert
    /// per rollup row a write counts in and no scans; then fills them from the rows already stored, one grouped pass per
    /// table (idempotent: it clears them first). The tables are read by raw SQL only, so the EF model does not hold them.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261201080000_FacetHistogramQualityRollups")]
    public partial class FacetHistogramQualityRollups : Migration
    {
        private const string Day = "substr({0}, 1, 10) || ' 00:00:00'";

        private const string HistogramKey = "\"Facet\", \"Value\", \"Histogram\", \"Day\", \"PresetName\", \"Provider\", \"Model\", \"Bucket\"";

        private const string QualityKey = "\"Facet\", \"Value\", \"Day\", \"PresetName\", \"Provider\", \"Model\"";

        private const string QualityColumns = QualityKey + ", \"Evaluations\", \"ScoreSum\", \"Passed\", \"Errors\", \"JudgeCostNanoUsd\"";

        private const string QualityUpsert = "ON CONFLICT (" + QualityKey + ") DO UPDATE SET \"Evaluations\" = \"Evaluations\" + excluded.\"Evaluations\", " +
            "\"ScoreSum\" = \"ScoreSum\" + excluded.\"ScoreSum\", \"Passed\" = \"Passed\" + excluded.\"Passed\", \"Errors\" = \"Errors\" + excluded.\"Errors\", " +
            "\"JudgeCostNanoUsd\" = \"JudgeCostNanoUsd\" + excluded.\"JudgeCostNanoUsd\"";

        private const string MetricUpsert = "ON CONFLICT (" + QualityKey + ", \"Name\") DO UPDATE SET \"Sum\" = \"Sum\" + excluded.\"Sum\", \"Count\" = \"Count\" + excluded.\"Count\"";

        private static readonly string[] TriggerNames =
        [
            "runs_insert", "runs_update", "runs_cross", "runs_cross_usage", "runs_delete", "runs_move_quality", "tags_insert", "tags_delete", "evaluations_insert", "evaluations_update",
            "evaluations_before_delete", "metrics_insert", "metrics_update", "metrics_delete",
        ];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Read by key ranges only (a facet, value and histogram, then days): stored as their key (WITHOUT ROWID).
            migrationBuilder.Sql("""
                CREATE TABLE facet_histogram_rollups ("Facet" TEXT NOT NULL, "Value" TEXT NOT NULL, "Histogram" TEXT NOT NULL, "Day" TEXT NOT NULL,
                    "PresetName" TEXT NOT NULL, "Provider" TEXT NOT NULL, "Model" TEXT NOT NULL, "Bucket" INTEGER NOT NULL, "Runs" INTEGER NOT NULL,
                    CONSTRAINT "PK_facet_histogram_rollups" PRIMARY KEY ("Facet", "Value", "Histogram", "Day", "PresetName", "Provider", "Model", "Bucket")) WITHOUT ROWID;
                """);
            migrationBuilder.Sql("""
                CREATE TABLE facet_quality_rollups ("Facet" TEXT NOT NULL, "Value" TEXT NOT NULL, "Day" TEXT NOT NULL, "PresetName" TEXT NOT NULL,
                    "Provider" TEXT NOT NULL, "Model" TEXT NOT NULL, "Evaluations" INTEGER NOT NULL, "ScoreSum" REAL NOT NULL, "Passed" INTEGER NOT NULL,
                    "Errors" INTEGER NOT NULL, "JudgeCostNanoUsd" INTEGER NOT NULL,
                    CONSTRAINT "PK_facet_quality_rollups" PRIMARY KEY ("Facet", "Value", "Day", "PresetName", "Provider", "Model")) WITHOUT ROWID;
                """);
            migrationBuilder.Sql("""
                CREATE TABLE facet_quality_metric_rollups ("Facet" TEXT NOT NULL, "Value" TEXT NOT NULL, "Day" TEXT NOT NULL, "PresetName" TEXT NOT NULL,
                    "Provider" TEXT NOT NULL, "Model" TEXT NOT NULL, "Name" TEXT NOT NULL, "Sum" REAL NOT NULL, "Count" INTEGER NOT NULL,
                    CONSTRAINT "PK_facet_quality_metric_rollups" PRIMARY KEY ("Facet", "Value", "Day", "PresetName", "Provider", "Model", "Name")) WITHOUT ROWID;
                """);
            migrationBuilder.Sql("""
                CREATE TABLE facet_cross_rollups ("Facet" TEXT NOT NULL, "Value" TEXT NOT NULL, "ByFacet" TEXT NOT NULL, "ByValue" TEXT NOT NULL, "Day" TEXT NOT NULL,
                    "PresetName" TEXT NOT NULL, "Provider" TEXT NOT NULL, "Model" TEXT NOT NULL, "Runs" INTEGER NOT NULL, "Tokens" INTEGER NOT NULL,
                    "CostNanoUsd" INTEGER NOT NULL, "UnpricedRuns" INTEGER NOT NULL,
                    CONSTRAINT "PK_facet_cross_rollups" PRIMARY KEY ("Facet", "Value", "ByFacet", "ByValue", "Day", "PresetName", "Provider", "Model")) WITHOUT ROWID;
                """);
            migrationBuilder.Sql("""
                CREATE TABLE histogram_month_rollups ("Histogram" TEXT NOT NULL, "Month" TEXT NOT NULL, "PresetName" TEXT NOT NULL, "Provider" TEXT NOT NULL,
                    "Model" TEXT NOT NULL, "Bucket" INTEGER NOT NULL, "Runs" INTEGER NOT NULL,
                    CONSTRAINT "PK_histogram_month_rollups" PRIMARY KEY ("Histogram", "Month", "PresetName", "Provider", "Model", "Bucket")) WITHOUT ROWID;
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
                migrationBuilder.Sql($"DROP TRIGGER IF EXISTS facet_more_{trigger};");
            }

            migrationBuilder.Sql("DROP TABLE IF EXISTS facet_histogram_rollups; DROP TABLE IF EXISTS facet_quality_rollups; DROP TABLE IF EXISTS facet_quality_metric_rollups; " +
                "DROP TABLE IF EXISTS facet_cross_rollups; DROP TABLE IF EXISTS histogram_month_rollups;");
        }

        private static string F(string format, string value) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, value);

        private static string Bucket(string ms) => $"(SELECT \"Bucket\" FROM latency_buckets WHERE \"LowerMs\" <= {ms} ORDER BY \"LowerMs\" DESC LIMIT 1)";

        /// <summary>The facets (user, tags; not "every run", which the older rollups hold) of the run <paramref name="id"/> made for <paramref name="user"/>.</summary>
        private static string Facets(string id, string user) => $"""
            SELECT 'user' AS f, {user} AS v WHERE {user} IS NOT NULL
            UNION ALL SELECT 'tag', t."Tag" FROM run_tags t WHERE t."RunId" = {id}
            """;

        /// <summary>The two histograms, as rows <c>h.n</c>: every time a run counts in is read through <see cref="Ms"/>.</summary>
        private const string Kinds = "(SELECT 'latency' AS n UNION ALL SELECT 'first_token') AS h";

        /// <summary>Run row <paramref name="r"/>'s time in histogram <c>h.n</c>: its duration when it completed, its time to first token.</summary>
        private static string Ms(string r) =>
            $"(CASE h.n WHEN 'latency' THEN CASE WHEN {r}.\"Status\" = 'Completed' THEN {r}.\"DurationMs\" END ELSE {r}.\"TimeToFirstTokenMs\" END)";

        /// <summary>Run row <paramref name="r"/>'s share (times <paramref name="s"/>) of the histograms under <paramref name="facets"/> (yielding f, v).</summary>
        private static string Histograms(string r, string s, string facets)
        {
            var sql = $"""
                INSERT INTO facet_histogram_rollups ({HistogramKey}, "Runs")
                SELECT d.f, d.v, h.n, {F(Day, r + ".\"StartedAt\"")}, {r}."PresetName", {r}."Provider", {r}."Model", {Bucket(Ms(r))}, {s}
                FROM ({facets}) AS d, {Kinds} WHERE {Ms(r)} IS NOT NULL
                ON CONFLICT ({HistogramKey}) DO UPDATE SET "Runs" = "Runs" + excluded."Runs";
                """;
            return s == "1" ? sql : sql + $"""

                DELETE FROM facet_histogram_rollups WHERE ("Facet", "Value", "Histogram", "Bucket") IN (SELECT d.f, d.v, h.n, {Bucket(Ms(r))} FROM ({facets}) AS d, {Kinds} WHERE {Ms(r)} IS NOT NULL)
                    AND "Day" = {F(Day, r + ".\"StartedAt\"")} AND "PresetName" = {r}."PresetName" AND "Provider" = {r}."Provider" AND "Model" = {r}."Model" AND "Runs" = 0;
                """;
        }

        /// <summary>
        /// The share (times <paramref name="s"/>) of the evaluations <paramref name="from"/> yields as <c>e</c> (with its run's
        /// <paramref name="provider"/> and <paramref name="model"/>) and of their metrics, under <paramref name="facets"/>.
        /// </summary>
        private static string Quality(string s, string from, string provider, string model, string facets)
        {
            var key = $"d.f, d.v, {F(Day, "e.\"EvaluatedAt\"")}, e.\"PresetName\", {provider}, {model}";
            var sql = $"""
                INSERT INTO facet_quality_rollups ({QualityColumns})
                SELECT {key}, {s}, {s} * e."Score", {s} * (e."Passed" <> 0), {s} * (e."Error" IS NOT NULL), {s} * COALESCE(e."JudgeCostNanoUsd", 0)
                FROM ({facets}) AS d, {from}
                {QualityUpsert};
                INSERT INTO facet_quality_metric_rollups ({QualityKey}, "Name", "Sum", "Count")
                SELECT {key}, m."Name", {s} * SUM(m."NormalizedScore"), {s} * COUNT(*)
                FROM ({facets}) AS d, evaluation_metrics m, {from} AND m."RunId" = e."RunId" AND m."NormalizedScore" IS NOT NULL
                GROUP BY d.f, d.v, m."Name"
                {MetricUpsert};
                """;
            return s == "1" ? sql : sql + Prune(facets, from);
        }

        /// <summary>Quality rows of <paramref name="facets"/> on the evaluations' days that count nothing any more.</summary>
        private static string Prune(string facets, string from) => $"""

            DELETE FROM facet_quality_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Evaluations" = 0 AND "Day" IN (SELECT {F(Day, "e.\"EvaluatedAt\"")} FROM {from});
            DELETE FROM facet_quality_metric_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Count" = 0 AND "Day" IN (SELECT {F(Day, "e.\"EvaluatedAt\"")} FROM {from});
            """;

        /// <summary>One metric row's share under its run's facets (through its evaluation).</summary>
        private static string Metric(string m, string s)
        {
            var facets = Facets($"{m}.\"RunId\"", $"(SELECT u.\"UserId\" FROM runs u WHERE u.\"Id\" = {m}.\"RunId\")");
            var sql = $"""
                INSERT INTO facet_quality_metric_rollups ({QualityKey}, "Name", "Sum", "Count")
                SELECT d.f, d.v, {F(Day, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", {m}."Name", {s} * {m}."NormalizedScore", {s}
                FROM ({facets}) AS d, evaluations e JOIN runs r ON r."Id" = e."RunId"
                WHERE e."RunId" = {m}."RunId" AND {m}."NormalizedScore" IS NOT NULL
                {MetricUpsert};
                """;
            return s == "1" ? sql : sql + $"""

                DELETE FROM facet_quality_metric_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Name" = {m}."Name" AND "Count" = 0
                    AND "Day" IN (SELECT {F(Day, "e.\"EvaluatedAt\"")} FROM evaluations e WHERE e."RunId" = {m}."RunId");
                """;
        }

        private const string CrossKey = "\"Facet\", \"Value\", \"ByFacet\", \"ByValue\", \"Day\", \"PresetName\", \"Provider\", \"Model\"";

        private const string CrossUpsert = "ON CONFLICT (" + CrossKey + ") DO UPDATE SET \"Runs\" = \"Runs\" + excluded.\"Runs\", " +
            "\"Tokens\" = \"Tokens\" + excluded.\"Tokens\", \"CostNanoUsd\" = \"CostNanoUsd\" + excluded.\"CostNanoUsd\", " +
            "\"UnpricedRuns\" = \"UnpricedRuns\" + excluded.\"UnpricedRuns\"";

        /// <summary>
        /// The pairs of facets run <paramref name="id"/> (made for <paramref name="user"/>) counts under, as (f, v, bf, bv): its user by
        /// each tag, each tag by its user, each tag by each of its tags (itself included). What a user's view shows by tag and a
        /// tag's view by user and by tag.
        /// </summary>
        private static string Pairs(string id, string user) => $"""
            SELECT 'user' AS f, {user} AS v, 'tag' AS bf, t."Tag" AS bv FROM run_tags t WHERE t."RunId" = {id} AND {user} IS NOT NULL
            UNION ALL SELECT 'tag', t."Tag", 'user', {user} FROM run_tags t WHERE t."RunId" = {id} AND {user} IS NOT NULL
            UNION ALL SELECT 'tag', a."Tag", 'tag', b."Tag" FROM run_tags a, run_tags b WHERE a."RunId" = {id} AND b."RunId" = {id}
            """;

        /// <summary>The pairs tag row <paramref name="t"/> makes with its run's user and tags (itself with itself once).</summary>
        private static string TagPairs(string t) => $"""
            SELECT 'user' AS f, u."UserId" AS v, 'tag' AS bf, {t}."Tag" AS bv FROM runs u WHERE u."Id" = {t}."RunId" AND u."UserId" IS NOT NULL
            UNION ALL SELECT 'tag', {t}."Tag", 'user', u."UserId" FROM runs u WHERE u."Id" = {t}."RunId" AND u."UserId" IS NOT NULL
            UNION ALL SELECT 'tag', {t}."Tag", 'tag', b."Tag" FROM run_tags b WHERE b."RunId" = {t}."RunId"
            UNION ALL SELECT 'tag', b."Tag", 'tag', {t}."Tag" FROM run_tags b WHERE b."RunId" = {t}."RunId" AND b."Tag" <> {t}."Tag"
            """;

        /// <summary>
        /// Run row <paramref name="r"/>'s usage (times <paramref name="s"/>) under <paramref name="pairs"/>; <paramref name="run"/>, when
        /// given, is the id of the run <paramref name="r"/> stands for, read from runs (a tag trigger's run).
        /// </summary>
        private static string Cross(string r, string s, string pairs, string run = null)
        {
            var sql = $"""
                INSERT INTO facet_cross_rollups ({CrossKey}, "Runs", "Tokens", "CostNanoUsd", "UnpricedRuns")
                SELECT p.f, p.v, p.bf, p.bv, {F(Day, r + ".\"StartedAt\"")}, {r}."PresetName", {r}."Provider", {r}."Model", {s},
                    {s} * ({r}."InputTokens" + {r}."OutputTokens"), {s} * COALESCE({r}."CostNanoUsd", 0),
                    {s} * ({r}."CostNanoUsd" IS NULL AND {r}."InputTokens" + {r}."OutputTokens" > 0)
                FROM ({pairs}) AS p{(run is null ? " WHERE true" : $", runs {r} WHERE {r}.\"Id\" = {run}")}
                {CrossUpsert};
                """;
            var key = run is null
                ? $"= {F(Day, r + ".\"StartedAt\"")} AND \"PresetName\" = {r}.\"PresetName\" AND \"Provider\" = {r}.\"Provider\" AND \"Model\" = {r}.\"Model\""
                : $"IN (SELECT {F(Day, r + ".\"StartedAt\"")} FROM runs {r} WHERE {r}.\"Id\" = {run})";
            return s == "1" ? sql : sql + $"""

                DELETE FROM facet_cross_rollups WHERE ("Facet", "Value", "ByFacet", "ByValue") IN ({pairs}) AND "Runs" = 0 AND "Day" {key};
                """;
        }

        private const string Month = "substr({0}, 1, 7) || '-01 00:00:00'";

        private const string MonthKey = "\"Histogram\", \"Month\", \"PresetName\", \"Provider\", \"Model\", \"Bucket\"";

        /// <summary>
        /// Run row <paramref name="r"/>'s share (times <paramref name="s"/>) of the histograms of every run by UTC month: a view of
        /// all time or of several months reads a month's buckets once instead of each day's.
        /// </summary>
        private static string Months(string r, string s)
        {
            var key = $"h.n, {F(Month, r + ".\"StartedAt\"")}, {r}.\"PresetName\", {r}.\"Provider\", {r}.\"Model\", {Bucket(Ms(r))}";
            var sql = $"""
                INSERT INTO histogram_month_rollups ({MonthKey}, "Runs")
                SELECT {key}, {s} FROM {Kinds} WHERE {Ms(r)} IS NOT NULL
                ON CONFLICT ({MonthKey}) DO UPDATE SET "Runs" = "Runs" + excluded."Runs";
                """;
            return s == "1" ? sql : sql + $"""

                DELETE FROM histogram_month_rollups WHERE ({MonthKey}) IN (SELECT {key} FROM {Kinds} WHERE {Ms(r)} IS NOT NULL) AND "Runs" = 0;
                """;
        }

        /// <summary>A run's columns whose change moves its whole share of the pairs to another row.</summary>
        private const string Moved = "OLD.\"StartedAt\" IS NOT NEW.\"StartedAt\" OR OLD.\"PresetName\" IS NOT NEW.\"PresetName\" OR OLD.\"Provider\" IS NOT NEW.\"Provider\" " +
            "OR OLD.\"Model\" IS NOT NEW.\"Model\" OR OLD.\"UserId\" IS NOT NEW.\"UserId\"";

        /// <summary>
        /// The trigger that adds a run's extra usage to its pairs (user and tag, tag and tag) when it did not move (the writer
        /// finishing it), its WHEN clause ending in <paramref name="guard"/> (empty, or <c> AND</c> and a condition).
        /// </summary>
        internal static string CrossUsageTrigger(string guard) =>
            $"CREATE TRIGGER facet_more_runs_cross_usage AFTER UPDATE OF \"InputTokens\", \"OutputTokens\", \"CostNanoUsd\" ON runs WHEN NOT ({Moved}) " +
            "AND (OLD.\"InputTokens\" IS NOT NEW.\"InputTokens\" " +
            $"OR OLD.\"OutputTokens\" IS NOT NEW.\"OutputTokens\" OR OLD.\"CostNanoUsd\" IS NOT NEW.\"CostNanoUsd\"){guard} BEGIN\n" +
                $"""
                INSERT INTO facet_cross_rollups ({CrossKey}, "Runs", "Tokens", "CostNanoUsd", "UnpricedRuns")
                SELECT p.f, p.v, p.bf, p.bv, {F(Day, "NEW.\"StartedAt\"")}, NEW."PresetName", NEW."Provider", NEW."Model", 0,
                    NEW."InputTokens" + NEW."OutputTokens" - OLD."InputTokens" - OLD."OutputTokens", COALESCE(NEW."CostNanoUsd", 0) - COALESCE(OLD."CostNanoUsd", 0),
                    (NEW."CostNanoUsd" IS NULL AND NEW."InputTokens" + NEW."OutputTokens" > 0) - (OLD."CostNanoUsd" IS NULL AND OLD."InputTokens" + OLD."OutputTokens" > 0)
                FROM ({Pairs("NEW.\"Id\"", "NEW.\"UserId\"")}) AS p WHERE true
                {CrossUpsert};
                """ + "\nEND;";

        private static IEnumerable<string> Triggers()
        {
            static string Trigger(string name, string when, string body) => $"CREATE TRIGGER facet_more_{name} {when} BEGIN\n{body}\nEND;";
            static string EvaluationFacets(string e) => Facets(e + ".\"RunId\"", $"(SELECT u.\"UserId\" FROM runs u WHERE u.\"Id\" = {e}.\"RunId\")");
            static string OwnRun(string e) => $"evaluations e JOIN runs r ON r.\"Id\" = e.\"RunId\" WHERE e.\"RunId\" = {e}.\"RunId\"";

            // A new run has no tags yet (they follow it): its user's histograms.
            yield return Trigger("runs_insert", "AFTER INSERT ON runs", Histograms("NEW", "1", RunFacets("NEW")) + Months("NEW", "1"));
            // Only when what the histograms hold changed: the writer's other updates of a run cost one comparison here.
            yield return Trigger("runs_update", $"AFTER UPDATE ON runs WHEN {RunsUpdateWhen}",
                Histograms("OLD", "-1", RunFacets("OLD")) + Histograms("NEW", "1", RunFacets("NEW")) + Months("OLD", "-1") + Months("NEW", "1"));
            // A run moved to another day, agent, model or user: its pairs' share moves (and rows left counting nothing go).
            yield return Trigger("runs_cross", $"AFTER UPDATE ON runs WHEN {Moved}",
                Cross("OLD", "-1", Pairs("OLD.\"Id\"", "OLD.\"UserId\"")) + Cross("NEW", "1", Pairs("NEW.\"Id\"", "NEW.\"UserId\"")));
            // A run that only used more (the writer finishing it): one upsert of the difference per pair, nothing to prune.
            yield return CrossUsageTrigger("");
            // A deleted run's tags went first (facets_runs_before_delete), taking their share; its user's share goes here.
            yield return Trigger("runs_delete", "AFTER DELETE ON runs", Histograms("OLD", "-1", RunFacets("OLD")) + Months("OLD", "-1"));
            // A scored run given another user, provider or model takes its evaluation's share along.
            const string Scored = "evaluations e WHERE e.\"RunId\" = NEW.\"Id\"";
            yield return Trigger("runs_move_quality",
                "AFTER UPDATE OF \"UserId\", \"Provider\", \"Model\" ON runs " +
                "WHEN OLD.\"UserId\" IS NOT NEW.\"UserId\" OR OLD.\"Provider\" IS NOT NEW.\"Provider\" OR OLD.\"Model\" IS NOT NEW.\"Model\"",
                Quality("-1", Scored, "OLD.\"Provider\"", "OLD.\"Model\"", RunFacets("OLD")) + Quality("1", Scored, "NEW.\"Provider\"", "NEW.\"Model\"", RunFacets("NEW")));
            const string TagFacet = "SELECT 'tag' AS f, {0}.\"Tag\" AS v";
            yield return Trigger("tags_insert", "AFTER INSERT ON run_tags", TagHistograms("NEW", "1") + Cross("r", "1", TagPairs("NEW"), "NEW.\"RunId\"") + Quality("1", OwnRun("NEW"), "r.\"Provider\"", "r.\"Model\"", F(TagFacet, "NEW")));
            // Before the row goes, while the run still tells which day, agent and model the tag counted for.
            yield return Trigger("tags_delete", "BEFORE DELETE ON run_tags", TagHistograms("OLD", "-1") + Cross("r", "-1", TagPairs("OLD"), "OLD.\"RunId\"") + Quality("-1", OwnRun("OLD"), "r.\"Provider\"", "r.\"Model\"", F(TagFacet, "OLD")));
            yield return Trigger("evaluations_insert", "AFTER INSERT ON evaluations",
                Quality("1", "runs r, evaluations e WHERE r.\"Id\" = NEW.\"RunId\" AND e.\"RunId\" = NEW.\"RunId\"", "r.\"Provider\"", "r.\"Model\"", EvaluationFacets("NEW")));
            yield return Trigger("evaluations_update", "AFTER UPDATE ON evaluations",
                Old("OLD", EvaluationFacets("OLD")) + Quality("1", "runs r, evaluations e WHERE r.\"Id\" = NEW.\"RunId\" AND e.\"RunId\" = NEW.\"RunId\"", "r.\"Provider\"", "r.\"Model\"", EvaluationFacets("NEW")));
            // Before the row goes, with its metrics (their own delete triggers then find no evaluation to take from).
            yield return Trigger("evaluations_before_delete", "BEFORE DELETE ON evaluations", Old("OLD", EvaluationFacets("OLD")));
            yield return Trigger("metrics_insert", "AFTER INSERT ON evaluation_metrics", Metric("NEW", "1"));
            yield return Trigger("metrics_update", "AFTER UPDATE ON evaluation_metrics", Metric("OLD", "-1") + Metric("NEW", "1"));
            yield return Trigger("metrics_delete", "AFTER DELETE ON evaluation_metrics", Metric("OLD", "-1"));
        }

        /// <summary>When a run's update changes what the histograms hold.</summary>
        internal const string RunsUpdateWhen = "OLD.\"StartedAt\" IS NOT NEW.\"StartedAt\" OR OLD.\"PresetName\" IS NOT NEW.\"PresetName\" " +
            "OR OLD.\"Provider\" IS NOT NEW.\"Provider\" OR OLD.\"Model\" IS NOT NEW.\"Model\" OR OLD.\"Status\" IS NOT NEW.\"Status\" " +
            "OR OLD.\"DurationMs\" IS NOT NEW.\"DurationMs\" OR OLD.\"TimeToFirstTokenMs\" IS NOT NEW.\"TimeToFirstTokenMs\" OR OLD.\"UserId\" IS NOT NEW.\"UserId\"";

        /// <summary>Whether run row <paramref name="r"/> counts in any histogram (<see cref="Ms"/> is not null for one of them).</summary>
        internal static string InHistograms(string r) => $"(({r}.\"Status\" = 'Completed' AND {r}.\"DurationMs\" IS NOT NULL) OR {r}.\"TimeToFirstTokenMs\" IS NOT NULL)";

        /// <summary>Run row <paramref name="r"/>'s share (times <paramref name="s"/>) of its facets' daily and every run's monthly histograms.</summary>
        internal static string RunHistograms(string r, string s) => Histograms(r, s, RunFacets(r)) + Months(r, s);

        /// <summary>The facets of run row <paramref name="r"/>: its user and its tags.</summary>
        private static string RunFacets(string r) => Facets(r + ".\"Id\"", r + ".\"UserId\"");

        /// <summary>Takes away the share of the evaluation as it was (<paramref name="e"/> = OLD; its metrics as stored).</summary>
        private static string Old(string e, string facets)
        {
            var key = $"d.f, d.v, {F(Day, e + ".\"EvaluatedAt\"")}, {e}.\"PresetName\", r.\"Provider\", r.\"Model\"";
            var from = $"runs r WHERE r.\"Id\" = {e}.\"RunId\"";
            return $"""
                INSERT INTO facet_quality_rollups ({QualityColumns})
                SELECT {key}, -1, -{e}."Score", -({e}."Passed" <> 0), -({e}."Error" IS NOT NULL), -COALESCE({e}."JudgeCostNanoUsd", 0)
                FROM ({facets}) AS d, {from}
                {QualityUpsert};
                INSERT INTO facet_quality_metric_rollups ({QualityKey}, "Name", "Sum", "Count")
                SELECT {key}, m."Name", -SUM(m."NormalizedScore"), -COUNT(*)
                FROM ({facets}) AS d, evaluation_metrics m, {from} AND m."RunId" = {e}."RunId" AND m."NormalizedScore" IS NOT NULL
                GROUP BY d.f, d.v, m."Name"
                {MetricUpsert};
                DELETE FROM facet_quality_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Evaluations" = 0 AND "Day" = {F(Day, e + ".\"EvaluatedAt\"")};
                DELETE FROM facet_quality_metric_rollups WHERE ("Facet", "Value") IN ({facets}) AND "Count" = 0 AND "Day" = {F(Day, e + ".\"EvaluatedAt\"")};
                """;
        }

        /// <summary>Tag row <paramref name="t"/>'s share (times <paramref name="s"/>) of its run's histograms.</summary>
        private static string TagHistograms(string t, string s)
        {
            var sql = $"""
                INSERT INTO facet_histogram_rollups ({HistogramKey}, "Runs")
                SELECT 'tag', {t}."Tag", h.n, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket(Ms("r"))}, {s}
                FROM runs r, {Kinds} WHERE r."Id" = {t}."RunId" AND {Ms("r")} IS NOT NULL
                ON CONFLICT ({HistogramKey}) DO UPDATE SET "Runs" = "Runs" + excluded."Runs";
                """;
            return s == "1" ? sql : sql + $"""

                DELETE FROM facet_histogram_rollups WHERE "Facet" = 'tag' AND "Value" = {t}."Tag" AND "Runs" = 0
                    AND ("Histogram", "Day", "PresetName", "Provider", "Model", "Bucket") IN (
                        SELECT h.n, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket(Ms("r"))} FROM runs r, {Kinds}
                        WHERE r."Id" = {t}."RunId" AND {Ms("r")} IS NOT NULL);
                """;
        }

        /// <summary>Fills the three tables from the rows already stored, one grouped pass each (from scratch, so running it again is harmless).</summary>
        private static IEnumerable<string> Backfill()
        {
            yield return "DELETE FROM facet_histogram_rollups; DELETE FROM facet_quality_rollups; DELETE FROM facet_quality_metric_rollups; DELETE FROM facet_cross_rollups; " +
                "DELETE FROM histogram_month_rollups;";
            yield return $"""
                INSERT INTO histogram_month_rollups ({MonthKey}, "Runs")
                SELECT h.n, {F(Month, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket(Ms("r"))}, COUNT(*)
                FROM runs r, {Kinds} WHERE {Ms("r")} IS NOT NULL
                GROUP BY 1, 2, 3, 4, 5, 6;
                """;
            // The pairs of every tagged run: its user by each tag, each tag by its user, each tag by each of its tags.
            foreach (var (pair, source) in ((string, string)[])[
                ("'user', r.\"UserId\", 'tag', t.\"Tag\"", "run_tags t JOIN runs r ON r.\"Id\" = t.\"RunId\" WHERE r.\"UserId\" IS NOT NULL"),
                ("'tag', t.\"Tag\", 'user', r.\"UserId\"", "run_tags t JOIN runs r ON r.\"Id\" = t.\"RunId\" WHERE r.\"UserId\" IS NOT NULL"),
                ("'tag', t.\"Tag\", 'tag', b.\"Tag\"", "run_tags t JOIN run_tags b ON b.\"RunId\" = t.\"RunId\" JOIN runs r ON r.\"Id\" = t.\"RunId\" WHERE true")])
            {
                yield return $"""
                    INSERT INTO facet_cross_rollups ({CrossKey}, "Runs", "Tokens", "CostNanoUsd", "UnpricedRuns")
                    SELECT {pair}, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", COUNT(*), SUM(r."InputTokens" + r."OutputTokens"),
                        COALESCE(SUM(r."CostNanoUsd"), 0), SUM(r."CostNanoUsd" IS NULL AND r."InputTokens" + r."OutputTokens" > 0)
                    FROM {source}
                    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
                    """;
            }

            // The facets of every run, as (f, v, id): its user, each of its tags.
            const string RunFacets = """
                (SELECT 'user' AS f, "UserId" AS v, "Id" AS id FROM runs WHERE "UserId" IS NOT NULL UNION ALL SELECT 'tag', "Tag", "RunId" FROM run_tags)
                """;
            foreach (var (facet, source) in ((string, string)[])[("'user', r.\"UserId\"", "runs r WHERE r.\"UserId\" IS NOT NULL"),
                ("'tag', t.\"Tag\"", "run_tags t JOIN runs r ON r.\"Id\" = t.\"RunId\" WHERE true")])
            {
                yield return $"""
                    INSERT INTO facet_histogram_rollups ({HistogramKey}, "Runs")
                    SELECT {facet}, h.n, {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model", {Bucket(Ms("r"))}, COUNT(*)
                    FROM {source.Replace(" WHERE ", $", {Kinds} WHERE ", StringComparison.Ordinal)} AND {Ms("r")} IS NOT NULL
                    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
                    """;
            }

            yield return $"""
                INSERT INTO facet_quality_rollups ({QualityColumns})
                SELECT d.f, d.v, {F(Day, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", COUNT(*), SUM(e."Score"), SUM(e."Passed" <> 0),
                    SUM(e."Error" IS NOT NULL), COALESCE(SUM(e."JudgeCostNanoUsd"), 0)
                FROM {RunFacets} AS d JOIN evaluations e ON e."RunId" = d.id JOIN runs r ON r."Id" = e."RunId"
                GROUP BY 1, 2, 3, 4, 5, 6;
                """;
            yield return $"""
                INSERT INTO facet_quality_metric_rollups ({QualityKey}, "Name", "Sum", "Count")
                SELECT d.f, d.v, {F(Day, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", m."Name", SUM(m."NormalizedScore"), COUNT(*)
                FROM {RunFacets} AS d JOIN evaluations e ON e."RunId" = d.id JOIN runs r ON r."Id" = e."RunId"
                    JOIN evaluation_metrics m ON m."RunId" = e."RunId" AND m."NormalizedScore" IS NOT NULL
                GROUP BY 1, 2, 3, 4, 5, 6, 7;
                """;
        }
    }
}
