using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: the same indexes of empty rollup rows as SQLite's migration of this name. PostgreSQL looks a run's
    /// facet prunes up in the key already, but the metric rollup's prune names its rows by metric name alone, which is not
    /// the key's first column: with 350,000 rows (a year of hours, five agents, two models, four metrics) it read the whole
    /// table on every metric changed or removed (deleting a session removes its runs' metrics), and with this index looks up
    /// the one row a write left empty.
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261205230000_EmptyRollupRowsIndexed")]
    public partial class EmptyRollupRowsIndexed : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) => Sqlite.Migrations.EmptyRollupRowsIndexed.CreateIndexes(migrationBuilder);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) => Sqlite.Migrations.EmptyRollupRowsIndexed.DropIndexes(migrationBuilder);
    }
}
