using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: evaluations by the time they were made, whatever the agent. A report whose days begin inside a UTC hour
    /// (a half- or quarter-hour zone) reads that one hour a day of every agent's evaluations; with the agent first in the only
    /// time index, those scattered hours were a scan of every evaluation. Raw SQL, as the other report-only indexes, so the
    /// EF model does not hold it.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261201160000_EvaluationsByTime")]
    public partial class EvaluationsByTime : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("CREATE INDEX IF NOT EXISTS \"IX_evaluations_EvaluatedAt\" ON \"evaluations\" (\"EvaluatedAt\");");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX IF EXISTS \"IX_evaluations_EvaluatedAt\";");
        }
    }
}
