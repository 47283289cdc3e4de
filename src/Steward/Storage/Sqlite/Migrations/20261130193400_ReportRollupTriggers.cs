using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Migrations
{
    /// <summary>
    /// Hand-written: the triggers that keep the report rollups (run_rollups, latency_rollups, quality_rollups,
    /// quality_metric_rollups), the sessions' summary columns and the text search index (search_text, FTS5 trigram) in
    /// step with every write to runs, evaluations, evaluation_metrics, run_feedback and sessions, in the same
    /// transaction; then fills them from the rows already stored (idempotent: it clears them first).
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261130193400_ReportRollupTriggers")]
    public partial class ReportRollupTriggers : Migration
    {
        private const string Hour = "substr({0}, 1, 13) || ':00:00'";
        private const string Day = "substr({0}, 1, 10) || ' 00:00:00'";

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The rollups are read in key order (by hour) and only ever by key: stored as their key (WITHOUT ROWID), a report
            // reads them in one sequential pass instead of a lookup per row. They are empty here; the backfill below fills them.
            foreach (var (table, columns, key) in RollupTables)
            {
                migrationBuilder.Sql($"DROP TABLE {table};");
                migrationBuilder.Sql($"CREATE TABLE {table} ({columns}, CONSTRAINT \"PK_{table}\" PRIMARY KEY ({key})) WITHOUT ROWID;");
            }

            migrationBuilder.Sql("CREATE TABLE latency_buckets (\"LowerMs\" REAL NOT NULL PRIMARY KEY, \"Bucket\" INTEGER NOT NULL) WITHOUT ROWID;");
            migrationBuilder.Sql("INSERT INTO latency_buckets VALUES " + string.Join(", ", Enumerable.Range(0, Analytics.LatencyBuckets.Last + 1)
                .Select(b => $"({(b == 0 ? "-1e300" : Analytics.LatencyBuckets.LowerMs(b).ToString("R", System.Globalization.CultureInfo.InvariantCulture))}, {b})")) + ";");
            migrationBuilder.Sql("CREATE VIRTUAL TABLE search_text USING fts5(\"Text\", \"SessionId\" UNINDEXED, tokenize = 'trigram');");
            migrationBuilder.Sql("CREATE TABLE search_rows (\"Key\" TEXT NOT NULL PRIMARY KEY, \"Row\" INTEGER NOT NULL) WITHOUT ROWID;");

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
            foreach (var trigger in (string[])["runs_insert", "runs_update", "runs_before_delete", "runs_delete", "runs_move_quality", "runs_query", "evaluations_insert",
                "evaluations_update", "evaluations_before_delete", "evaluations_delete", "metrics_insert", "metrics_update", "metrics_delete", "feedback_insert",
                "feedback_update", "feedback_delete", "sessions_insert", "sessions_title", "sessions_delete"])
            {
                migrationBuilder.Sql($"DROP TRIGGER IF EXISTS rollup_{trigger};");
            }

            migrationBuilder.Sql("DROP TABLE IF EXISTS search_rows;");
            migrationBuilder.Sql("DROP TABLE IF EXISTS search_text;");
            migrationBuilder.Sql("DROP TABLE IF EXISTS latency_buckets;");
        }

        private static readonly (string Table, string Columns, string Key)[] RollupTables =
        [
            ("run_rollups",
                "\"Hour\" TEXT NOT NULL, \"PresetName\" TEXT NOT NULL, \"Provider\" TEXT NOT NULL, \"Model\" TEXT NOT NULL, \"Runs\" INTEGER NOT NULL, " +
                "\"Completed\" INTEGER NOT NULL, \"Failed\" INTEGER NOT NULL, \"PricedRuns\" INTEGER NOT NULL, \"UnpricedRuns\" INTEGER NOT NULL, " +
                "\"CostNanoUsd\" INTEGER NOT NULL, \"UncachedInput\" INTEGER NOT NULL, \"CachedInput\" INTEGER NOT NULL, " +
                "\"NonReasoningOutput\" INTEGER NOT NULL, \"Reasoning\" INTEGER NOT NULL",
                "\"Hour\", \"PresetName\", \"Provider\", \"Model\""),
            ("latency_rollups",
                "\"Day\" TEXT NOT NULL, \"PresetName\" TEXT NOT NULL, \"Provider\" TEXT NOT NULL, \"Model\" TEXT NOT NULL, \"Bucket\" INTEGER NOT NULL, " +
                "\"Runs\" INTEGER NOT NULL",
                "\"Day\", \"PresetName\", \"Provider\", \"Model\", \"Bucket\""),
            ("quality_rollups",
                "\"Hour\" TEXT NOT NULL, \"PresetName\" TEXT NOT NULL, \"Provider\" TEXT NOT NULL, \"Model\" TEXT NOT NULL, \"Evaluations\" INTEGER NOT NULL, " +
                "\"ScoreSum\" REAL NOT NULL, \"Passed\" INTEGER NOT NULL, \"Errors\" INTEGER NOT NULL, \"JudgeCostNanoUsd\" INTEGER NOT NULL",
                "\"Hour\", \"PresetName\", \"Provider\", \"Model\""),
            ("quality_metric_rollups",
                "\"Hour\" TEXT NOT NULL, \"PresetName\" TEXT NOT NULL, \"Provider\" TEXT NOT NULL, \"Model\" TEXT NOT NULL, \"Name\" TEXT NOT NULL, " +
                "\"Sum\" REAL NOT NULL, \"Count\" INTEGER NOT NULL",
                "\"Hour\", \"PresetName\", \"Provider\", \"Model\", \"Name\""),
        ];

        /// <summary>The head of an insert of a run's share into run_rollups; its values follow.</summary>
        internal const string RunRollupsInsert = "INSERT INTO run_rollups (\"Hour\", \"PresetName\", \"Provider\", \"Model\", \"Runs\", \"Completed\", \"Failed\", " +
            "\"PricedRuns\", \"UnpricedRuns\", \"CostNanoUsd\", \"UncachedInput\", \"CachedInput\", \"NonReasoningOutput\", \"Reasoning\")";

        /// <summary>What adds a share to its hour's run_rollups row when the row is there.</summary>
        internal const string RunRollupsConflict = """
            ON CONFLICT ("Hour", "PresetName", "Provider", "Model") DO UPDATE SET "Runs" = "Runs" + excluded."Runs",
                "Completed" = "Completed" + excluded."Completed", "Failed" = "Failed" + excluded."Failed", "PricedRuns" = "PricedRuns" + excluded."PricedRuns",
                "UnpricedRuns" = "UnpricedRuns" + excluded."UnpricedRuns", "CostNanoUsd" = "CostNanoUsd" + excluded."CostNanoUsd",
                "UncachedInput" = "UncachedInput" + excluded."UncachedInput", "CachedInput" = "CachedInput" + excluded."CachedInput",
                "NonReasoningOutput" = "NonReasoningOutput" + excluded."NonReasoningOutput", "Reasoning" = "Reasoning" + excluded."Reasoning";
            """;

        /// <summary>Every column of a run that <see cref="Run"/> reads, taken from its SQL, so a guard on them cannot drift from it.</summary>
        internal static string[] RunShareColumns() =>
            [.. System.Text.RegularExpressions.Regex.Matches(Run("OLD", -1), "OLD\\.\"(\\w+)\"").Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal)];

        /// <summary>A trigger's condition that any of <paramref name="columns"/> changed.</summary>
        internal static string Changed(IEnumerable<string> columns) => string.Join(" OR ", columns.Select(c => $"OLD.\"{c}\" IS NOT NEW.\"{c}\""));

        private static string F(string format, string value) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, value);

        /// <summary>Adds (<paramref name="sign"/> 1) or takes away (-1) a run row's share of run_rollups, latency_rollups and its session.</summary>
        internal static string Run(string r, int sign)
        {
            var s = sign.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var key = $"{F(Hour, r + ".\"StartedAt\"")}, {r}.\"PresetName\", {r}.\"Provider\", {r}.\"Model\"";
            var dayKey = $"{F(Day, r + ".\"StartedAt\"")}, {r}.\"PresetName\", {r}.\"Provider\", {r}.\"Model\"";
            var bucket = $"(SELECT \"Bucket\" FROM latency_buckets WHERE \"LowerMs\" <= {r}.\"DurationMs\" ORDER BY \"LowerMs\" DESC LIMIT 1)";
            var sql = $"""
                {RunRollupsInsert}
                VALUES ({key}, {s}, {s} * ({r}."Status" = 'Completed'), {s} * ({r}."Status" = 'Failed'), {s} * ({r}."CostNanoUsd" IS NOT NULL),
                    {s} * ({r}."CostNanoUsd" IS NULL AND {r}."InputTokens" + {r}."OutputTokens" > 0), {s} * COALESCE({r}."CostNanoUsd", 0),
                    {s} * ({r}."InputTokens" - {r}."CachedInputTokens"), {s} * {r}."CachedInputTokens", {s} * ({r}."OutputTokens" - {r}."ReasoningTokens"),
                    {s} * {r}."ReasoningTokens")
                {RunRollupsConflict}
                INSERT INTO latency_rollups ("Day", "PresetName", "Provider", "Model", "Bucket", "Runs")
                SELECT {dayKey}, {bucket}, {s} WHERE {r}."Status" = 'Completed' AND {r}."DurationMs" IS NOT NULL
                ON CONFLICT ("Day", "PresetName", "Provider", "Model", "Bucket") DO UPDATE SET "Runs" = "Runs" + excluded."Runs";
                UPDATE sessions SET "RunCount" = "RunCount" + {s}, "EvalRuns" = "EvalRuns" + {s} * ({r}."Purpose" = 'eval'),
                    "Tokens" = "Tokens" + {s} * ({r}."InputTokens" + {r}."OutputTokens"), "PricedRuns" = "PricedRuns" + {s} * ({r}."CostNanoUsd" IS NOT NULL),
                    "UnpricedRuns" = "UnpricedRuns" + {s} * ({r}."CostNanoUsd" IS NULL AND {r}."InputTokens" + {r}."OutputTokens" > 0),
                    "CostNanoUsd" = "CostNanoUsd" + {s} * COALESCE({r}."CostNanoUsd", 0)
                WHERE "Id" = {r}."SessionId";
                """;
            return sign > 0 ? sql : sql + $"""

                DELETE FROM run_rollups WHERE ("Hour", "PresetName", "Provider", "Model") = ({key}) AND "Runs" = 0;
                DELETE FROM latency_rollups WHERE ("Day", "PresetName", "Provider", "Model", "Bucket") = ({dayKey}, {bucket}) AND "Runs" = 0;
                """;
        }

        /// <summary>
        /// An evaluation's share of quality_rollups and quality_metric_rollups (<paramref name="from"/> yields <paramref name="e"/>
        /// with its run's <paramref name="provider"/> and <paramref name="model"/>).
        /// </summary>
        private static string Evaluation(string e, string provider, string model, int sign, string from = null)
        {
            var s = sign.ToString(System.Globalization.CultureInfo.InvariantCulture);
            from ??= $"FROM runs r WHERE r.\"Id\" = {e}.\"RunId\"";
            var hour = F(Hour, e + ".\"EvaluatedAt\"");
            var key = $"{hour}, {e}.\"PresetName\", {provider}, {model}";
            var sql = $"""
                INSERT INTO quality_rollups ("Hour", "PresetName", "Provider", "Model", "Evaluations", "ScoreSum", "Passed", "Errors", "JudgeCostNanoUsd")
                SELECT {key}, {s}, {s} * {e}."Score", {s} * ({e}."Passed" <> 0), {s} * ({e}."Error" IS NOT NULL), {s} * COALESCE({e}."JudgeCostNanoUsd", 0)
                {from}
                ON CONFLICT ("Hour", "PresetName", "Provider", "Model") DO UPDATE SET "Evaluations" = "Evaluations" + excluded."Evaluations",
                    "ScoreSum" = "ScoreSum" + excluded."ScoreSum", "Passed" = "Passed" + excluded."Passed", "Errors" = "Errors" + excluded."Errors",
                    "JudgeCostNanoUsd" = "JudgeCostNanoUsd" + excluded."JudgeCostNanoUsd";
                INSERT INTO quality_metric_rollups ("Hour", "PresetName", "Provider", "Model", "Name", "Sum", "Count")
                SELECT {key}, m."Name", {s} * SUM(m."NormalizedScore"), {s} * COUNT(*)
                {from.Replace("FROM ", "FROM evaluation_metrics m, ", StringComparison.Ordinal)} AND m."RunId" = {e}."RunId" AND m."NormalizedScore" IS NOT NULL
                GROUP BY m."Name"
                ON CONFLICT ("Hour", "PresetName", "Provider", "Model", "Name") DO UPDATE SET "Sum" = "Sum" + excluded."Sum", "Count" = "Count" + excluded."Count";
                """;
            return sign > 0 ? sql : sql + $"""

                DELETE FROM quality_rollups WHERE "Evaluations" = 0 AND "Hour" IN (SELECT {hour} {from});
                DELETE FROM quality_metric_rollups WHERE "Count" = 0 AND "Hour" IN (SELECT {hour} {from});
                """;
        }

        /// <summary>A scored evaluation's share of its session's quality.</summary>
        private static string SessionScore(string e, int sign) => $"""
            UPDATE sessions SET "ScoreSum" = "ScoreSum" + {sign} * {e}."Score", "Scored" = "Scored" + {sign}
            WHERE "Id" = (SELECT r."SessionId" FROM runs r WHERE r."Id" = {e}."RunId");
            """;

        /// <summary>One metric row's share of quality_metric_rollups (through its evaluation and run).</summary>
        private static string Metric(string m, int sign)
        {
            var s = sign.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var sql = $"""
                INSERT INTO quality_metric_rollups ("Hour", "PresetName", "Provider", "Model", "Name", "Sum", "Count")
                SELECT {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", {m}."Name", {s} * {m}."NormalizedScore", {s}
                FROM evaluations e JOIN runs r ON r."Id" = e."RunId"
                WHERE e."RunId" = {m}."RunId" AND {m}."NormalizedScore" IS NOT NULL
                ON CONFLICT ("Hour", "PresetName", "Provider", "Model", "Name") DO UPDATE SET "Sum" = "Sum" + excluded."Sum", "Count" = "Count" + excluded."Count";
                """;
            return sign > 0 ? sql : sql + """

                DELETE FROM quality_metric_rollups WHERE "Count" = 0 AND "Name" = OLD."Name";
                """;
        }

        private static string Feedback(string f, int sign) => $"""
            UPDATE sessions SET "FeedbackUp" = "FeedbackUp" + {sign} * ({f}."Rating" > 0), "FeedbackDown" = "FeedbackDown" + {sign} * ({f}."Rating" < 0)
            WHERE "Id" = (SELECT r."SessionId" FROM runs r WHERE r."Id" = {f}."RunId");
            """;

        private static string IndexText(string key, string text, string session) => $"""
            INSERT INTO search_text ("Text", "SessionId") VALUES ({text}, {session});
            INSERT OR REPLACE INTO search_rows ("Key", "Row") VALUES ({key}, last_insert_rowid());
            """;

        private static string UnindexText(string key) => $"""
            DELETE FROM search_text WHERE rowid = (SELECT "Row" FROM search_rows WHERE "Key" = {key});
            DELETE FROM search_rows WHERE "Key" = {key};
            """;

        private static IEnumerable<string> Triggers()
        {
            static string Trigger(string name, string when, string body) => $"CREATE TRIGGER rollup_{name} {when} BEGIN\n{body}\nEND;";
            yield return Trigger("runs_insert", "AFTER INSERT ON runs", Run("NEW", 1) + IndexText("NEW.\"Id\"", "NEW.\"Query\"", "NEW.\"SessionId\""));
            yield return Trigger("runs_update", "AFTER UPDATE ON runs", Run("OLD", -1) + Run("NEW", 1));
            // A run's evaluation and feedback go first, while the run still tells which session and model they count for.
            yield return Trigger("runs_before_delete", "BEFORE DELETE ON runs", """
                DELETE FROM evaluations WHERE "RunId" = OLD."Id";
                DELETE FROM run_feedback WHERE "RunId" = OLD."Id";
                """);
            yield return Trigger("runs_delete", "AFTER DELETE ON runs", Run("OLD", -1) + UnindexText("OLD.\"Id\""));
            // A scored run that changes model or provider takes its evaluation's share along.
            const string Scored = "FROM evaluations e WHERE e.\"RunId\" = NEW.\"Id\"";
            yield return Trigger("runs_move_quality",
                "AFTER UPDATE OF \"Provider\", \"Model\" ON runs WHEN OLD.\"Provider\" IS NOT NEW.\"Provider\" OR OLD.\"Model\" IS NOT NEW.\"Model\"",
                Evaluation("e", "OLD.\"Provider\"", "OLD.\"Model\"", -1, Scored) + Evaluation("e", "NEW.\"Provider\"", "NEW.\"Model\"", 1, Scored));
            yield return Trigger("runs_query", "AFTER UPDATE OF \"Query\" ON runs WHEN OLD.\"Query\" IS NOT NEW.\"Query\"",
                UnindexText("OLD.\"Id\"") + IndexText("NEW.\"Id\"", "NEW.\"Query\"", "NEW.\"SessionId\""));
            yield return Trigger("evaluations_insert", "AFTER INSERT ON evaluations", Evaluation("NEW", "r.\"Provider\"", "r.\"Model\"", 1) + SessionScore("NEW", 1));
            yield return Trigger("evaluations_update", "AFTER UPDATE ON evaluations",
                Evaluation("OLD", "r.\"Provider\"", "r.\"Model\"", -1) + SessionScore("OLD", -1) + Evaluation("NEW", "r.\"Provider\"", "r.\"Model\"", 1) + SessionScore("NEW", 1));
            yield return Trigger("evaluations_before_delete", "BEFORE DELETE ON evaluations", Evaluation("OLD", "r.\"Provider\"", "r.\"Model\"", -1) + SessionScore("OLD", -1));
            yield return Trigger("metrics_insert", "AFTER INSERT ON evaluation_metrics", Metric("NEW", 1));
            yield return Trigger("metrics_update", "AFTER UPDATE ON evaluation_metrics", Metric("OLD", -1) + Metric("NEW", 1));
            yield return Trigger("metrics_delete", "AFTER DELETE ON evaluation_metrics", Metric("OLD", -1));
            yield return Trigger("feedback_insert", "AFTER INSERT ON run_feedback", Feedback("NEW", 1));
            yield return Trigger("feedback_update", "AFTER UPDATE ON run_feedback", Feedback("OLD", -1) + Feedback("NEW", 1));
            yield return Trigger("feedback_delete", "AFTER DELETE ON run_feedback", Feedback("OLD", -1));
            yield return Trigger("sessions_insert", "AFTER INSERT ON sessions", IndexText("'s' || NEW.\"Id\"", "NEW.\"Title\"", "NEW.\"Id\""));
            yield return Trigger("sessions_title", "AFTER UPDATE OF \"Title\" ON sessions WHEN OLD.\"Title\" IS NOT NEW.\"Title\"",
                UnindexText("'s' || OLD.\"Id\"") + IndexText("'s' || NEW.\"Id\"", "NEW.\"Title\"", "NEW.\"Id\""));
            yield return Trigger("sessions_delete", "AFTER DELETE ON sessions", UnindexText("'s' || OLD.\"Id\""));
        }

        /// <summary>Fills the rollups, summaries and search index from the rows already stored (from scratch, so running it again is harmless).</summary>
        private static IEnumerable<string> Backfill()
        {
            yield return "DELETE FROM run_rollups; DELETE FROM latency_rollups; DELETE FROM quality_rollups; DELETE FROM quality_metric_rollups;";
            yield return $"""
                INSERT INTO run_rollups ("Hour", "PresetName", "Provider", "Model", "Runs", "Completed", "Failed", "PricedRuns", "UnpricedRuns", "CostNanoUsd",
                    "UncachedInput", "CachedInput", "NonReasoningOutput", "Reasoning")
                SELECT {F(Hour, "\"StartedAt\"")}, "PresetName", "Provider", "Model", COUNT(*), SUM("Status" = 'Completed'), SUM("Status" = 'Failed'),
                    COUNT("CostNanoUsd"), SUM("CostNanoUsd" IS NULL AND "InputTokens" + "OutputTokens" > 0), COALESCE(SUM("CostNanoUsd"), 0),
                    SUM("InputTokens" - "CachedInputTokens"), SUM("CachedInputTokens"), SUM("OutputTokens" - "ReasoningTokens"), SUM("ReasoningTokens")
                FROM runs GROUP BY 1, 2, 3, 4;
                """;
            yield return $"""
                INSERT INTO latency_rollups ("Day", "PresetName", "Provider", "Model", "Bucket", "Runs")
                SELECT {F(Day, "r.\"StartedAt\"")}, r."PresetName", r."Provider", r."Model",
                    (SELECT "Bucket" FROM latency_buckets WHERE "LowerMs" <= r."DurationMs" ORDER BY "LowerMs" DESC LIMIT 1), COUNT(*)
                FROM runs r WHERE r."Status" = 'Completed' AND r."DurationMs" IS NOT NULL GROUP BY 1, 2, 3, 4, 5;
                """;
            yield return $"""
                INSERT INTO quality_rollups ("Hour", "PresetName", "Provider", "Model", "Evaluations", "ScoreSum", "Passed", "Errors", "JudgeCostNanoUsd")
                SELECT {F(Hour, "e.\"EvaluatedAt\"")}, e."PresetName", r."Provider", r."Model", COUNT(*), SUM(e."Score"), SUM(e."Passed" <> 0),
                    SUM(e."Error" IS NOT NULL), COALESCE(SUM(e."JudgeCostNanoUsd"), 0)
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
                FROM (SELECT "SessionId", COUNT(*) AS n, SUM("Purpose" = 'eval') AS eval, SUM("InputTokens" + "OutputTokens") AS tokens,
                             COUNT("CostNanoUsd") AS priced, SUM("CostNanoUsd" IS NULL AND "InputTokens" + "OutputTokens" > 0) AS unpriced,
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
                FROM (SELECT r."SessionId", SUM(f."Rating" > 0) AS up, SUM(f."Rating" < 0) AS down FROM run_feedback f JOIN runs r ON r."Id" = f."RunId"
                      GROUP BY r."SessionId") AS a
                WHERE sessions."Id" = a."SessionId";
                """;
            // Search rows take the runs' row numbers, then the sessions' after them; later rows continue from the largest.
            yield return """
                DELETE FROM search_text; DELETE FROM search_rows;
                INSERT INTO search_rows ("Key", "Row") SELECT "Id", rowid FROM runs;
                INSERT INTO search_rows ("Key", "Row") SELECT 's' || "Id", rowid + (SELECT COALESCE(MAX(rowid), 0) FROM runs) FROM sessions;
                INSERT INTO search_text (rowid, "Text", "SessionId") SELECT rowid, "Query", "SessionId" FROM runs;
                INSERT INTO search_text (rowid, "Text", "SessionId") SELECT rowid + (SELECT COALESCE(MAX(rowid), 0) FROM runs), "Title", "Id" FROM sessions;
                """;
        }
    }
}
