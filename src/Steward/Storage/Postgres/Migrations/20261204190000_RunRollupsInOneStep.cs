using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using static Steward.Storage.Postgres.Migrations.ReportRollupTriggers;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: a run's update that keeps its rollup keys (start, agent, provider, model, purpose, session), which is
    /// every run's end, adds the difference it makes to run_rollups, latency_rollups and its session's totals in one step,
    /// as SQLite's trigger does (migration RunOutcomeRollupsInOneStep there). It took the run's whole share out of the
    /// three tables and put the new one back: two upserts of the hour's run_rollups row, a delete that finds nothing to
    /// delete, and two updates of the session row (each a new row version in PostgreSQL) for every run that ended. An update
    /// that moves the run to other keys still goes out and in.
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261204190000_RunRollupsInOneStep")]
    public partial class RunRollupsInOneStep : Migration
    {
        /// <summary>What the trigger function does first: an update that keeps the run's rollup keys adds its difference.</summary>
        private const string KeptKeys = """
                IF TG_OP = 'UPDATE' AND (OLD."StartedAt", OLD."PresetName", OLD."Provider", OLD."Model", OLD."Purpose", OLD."SessionId")
                        IS NOT DISTINCT FROM (NEW."StartedAt", NEW."PresetName", NEW."Provider", NEW."Model", NEW."Purpose", NEW."SessionId") THEN
                    PERFORM steward_rollup_run_change(OLD, NEW);
                    RETURN NULL;
                END IF;
            """;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"""
                CREATE FUNCTION steward_rollup_run_change(o runs, n runs) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    {RunRollupsInsert}
                    VALUES ({F(Hour, "n.\"StartedAt\"")}, n."PresetName", n."Provider", n."Model", 0,
                        (n."Status" = 'Completed')::int - (o."Status" = 'Completed')::int, (n."Status" = 'Failed')::int - (o."Status" = 'Failed')::int,
                        (n."CostNanoUsd" IS NOT NULL)::int - (o."CostNanoUsd" IS NOT NULL)::int,
                        (n."CostNanoUsd" IS NULL AND n."InputTokens" + n."OutputTokens" > 0)::int - (o."CostNanoUsd" IS NULL AND o."InputTokens" + o."OutputTokens" > 0)::int,
                        COALESCE(n."CostNanoUsd", 0) - COALESCE(o."CostNanoUsd", 0), (n."InputTokens" - n."CachedInputTokens") - (o."InputTokens" - o."CachedInputTokens"),
                        n."CachedInputTokens" - o."CachedInputTokens", (n."OutputTokens" - n."ReasoningTokens") - (o."OutputTokens" - o."ReasoningTokens"),
                        n."ReasoningTokens" - o."ReasoningTokens")
                    {RunRollupsUpsert};
                    IF (o."Status", o."DurationMs") IS DISTINCT FROM (n."Status", n."DurationMs") THEN
                        IF o."Status" = 'Completed' AND o."DurationMs" IS NOT NULL THEN
                            {LatencyRollupsInsert}
                            VALUES ({F(Day, "o.\"StartedAt\"")}, o."PresetName", o."Provider", o."Model",
                                (SELECT "Bucket" FROM latency_buckets WHERE "LowerMs" <= o."DurationMs" ORDER BY "LowerMs" DESC LIMIT 1), -1)
                            {LatencyRollupsUpsert};
                            DELETE FROM latency_rollups WHERE ("Day", "PresetName", "Provider", "Model") = ({F(Day, "o.\"StartedAt\"")}, o."PresetName", o."Provider", o."Model")
                                AND "Runs" = 0;
                        END IF;
                        IF n."Status" = 'Completed' AND n."DurationMs" IS NOT NULL THEN
                            {LatencyRollupsInsert}
                            VALUES ({F(Day, "n.\"StartedAt\"")}, n."PresetName", n."Provider", n."Model",
                                (SELECT "Bucket" FROM latency_buckets WHERE "LowerMs" <= n."DurationMs" ORDER BY "LowerMs" DESC LIMIT 1), 1)
                            {LatencyRollupsUpsert};
                        END IF;
                    END IF;
                    IF (o."InputTokens", o."OutputTokens", o."CostNanoUsd") IS DISTINCT FROM (n."InputTokens", n."OutputTokens", n."CostNanoUsd") THEN
                        UPDATE sessions SET "Tokens" = "Tokens" + (n."InputTokens" + n."OutputTokens") - (o."InputTokens" + o."OutputTokens"),
                            "PricedRuns" = "PricedRuns" + (n."CostNanoUsd" IS NOT NULL)::int - (o."CostNanoUsd" IS NOT NULL)::int,
                            "UnpricedRuns" = "UnpricedRuns" + (n."CostNanoUsd" IS NULL AND n."InputTokens" + n."OutputTokens" > 0)::int
                                - (o."CostNanoUsd" IS NULL AND o."InputTokens" + o."OutputTokens" > 0)::int,
                            "CostNanoUsd" = "CostNanoUsd" + COALESCE(n."CostNanoUsd", 0) - COALESCE(o."CostNanoUsd", 0)
                        WHERE "Id" = n."SessionId";
                    END IF;
                END $$;
                """);
            migrationBuilder.Sql(RunsRollupFunction(KeptKeys));
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(RunsRollupFunction());
            migrationBuilder.Sql("DROP FUNCTION IF EXISTS steward_rollup_run_change(runs, runs);");
        }
    }
}
