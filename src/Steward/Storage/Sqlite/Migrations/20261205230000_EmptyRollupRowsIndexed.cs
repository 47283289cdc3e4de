using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: each facet rollup (and the metric rollup) gets an index of its rows that count nothing, so the triggers'
    /// prunes find them without reading the table. A prune deletes the rows a write left at zero, and names them by a
    /// list of facets (<c>("Facet", "Value") IN (SELECT ...)</c>) that SQLite cannot look up in the key, so it read every
    /// row of the rollup instead: on each run's end (run_facet_rollups), each score replaced or tag removed, each run
    /// deleted with its session. The rollups hold a row per day, agent, model and status for every facet a store has seen, so
    /// the cost grew with the store's age and its users and tags: replayed with the app's SQLite, a run's end took 51 µs
    /// with 2 rows in run_facet_rollups and 13.7 ms with 50,000 (about three and a half years of 40 agent, model and status
    /// combinations with no users), 49 µs with this index. A row counts nothing only between a write and the prune that
    /// follows it in the same trigger, so each index stays all but empty and an update of a count touches it only when the
    /// count reaches or leaves zero. Raw SQL, as the other indexes only the database's own statements need.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261205230000_EmptyRollupRowsIndexed")]
    public partial class EmptyRollupRowsIndexed : Migration
    {
        /// <summary>Each rollup a prune reads with a list of facets (or by metric name alone), and the count that makes a row empty.</summary>
        internal static readonly (string Table, string Count)[] Pruned =
        [
            ("run_facet_rollups", "Runs"), ("facet_hour_rollups", "Runs"), ("facet_cross_rollups", "Runs"),
            ("facet_quality_rollups", "Evaluations"), ("facet_quality_hour_rollups", "Evaluations"),
            ("facet_quality_metric_rollups", "Count"), ("facet_quality_metric_hour_rollups", "Count"), ("quality_metric_rollups", "Count"),
        ];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) => CreateIndexes(migrationBuilder);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) => DropIndexes(migrationBuilder);

        /// <summary>The indexes, in SQL both providers take as it is (PostgreSQL's migration of this name runs it too).</summary>
        internal static void CreateIndexes(MigrationBuilder migrationBuilder)
        {
            foreach (var (table, count) in Pruned)
            {
                migrationBuilder.Sql($"CREATE INDEX IF NOT EXISTS \"IX_{table}_Empty\" ON \"{table}\" (\"{count}\") WHERE \"{count}\" = 0;");
            }
        }

        internal static void DropIndexes(MigrationBuilder migrationBuilder)
        {
            foreach (var (table, _) in Pruned)
            {
                migrationBuilder.Sql($"DROP INDEX IF EXISTS \"IX_{table}_Empty\";");
            }
        }
    }
}
