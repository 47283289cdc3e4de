using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: drops IX_runs_cost_by_day, which no query reads any more. It covered the cost report's grouped scan of
    /// every run by UTC day; the report now reads the rollups the triggers keep, and reads runs only for a session's runs,
    /// a user and a tag together, or the part of an hour at the ends of its range, where SQLite seeks IX_runs_SessionId,
    /// IX_runs_UserId_StartedAt or IX_runs_StartedAt instead (EXPLAIN QUERY PLAN). Every run still paid for it: an entry
    /// inserted at its start and moved at its end (its cost and tokens are in the key), on the single writer. Replayed under
    /// callgrind on a bench store of 19,600 runs, a run's start cost 25 k instructions less without it and its end 19-20 k
    /// less; a commit of 32 runs' ends with usage wrote 4.5 pages of it to the log.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261203210000_DropUnreadCostByDayIndex")]
    public partial class DropUnreadCostByDayIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql("DROP INDEX IF EXISTS \"IX_runs_cost_by_day\";");

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
            "CREATE INDEX \"IX_runs_cost_by_day\" ON \"runs\" (substr(\"StartedAt\", 1, 10), \"PresetName\", \"Provider\", \"Model\", " +
            "\"CostNanoUsd\", \"InputTokens\", \"CachedInputTokens\", \"OutputTokens\", \"ReasoningTokens\");");
    }
}
