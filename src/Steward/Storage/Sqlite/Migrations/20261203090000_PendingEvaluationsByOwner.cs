using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: the runs whose evaluation is still pending, by owner. Every process's sweep (each third of the
    /// reservation timeout) records the pending evaluations of processes that are gone as skipped, under the write lock;
    /// with no index on the evaluation status that statement read every run stored (0.1 s at 255,000 runs, every 40 s in
    /// each process, holding up every write meanwhile). Only pending runs are in it, so it stays as small as the queue of
    /// answers waiting for a score. Raw SQL, as the other indexes only a query needs, so the EF model does not hold it.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261203090000_PendingEvaluationsByOwner")]
    public partial class PendingEvaluationsByOwner : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("CREATE INDEX IF NOT EXISTS \"IX_runs_Owner_PendingEvaluation\" ON \"runs\" (\"Owner\") WHERE \"EvaluationStatus\" = 'pending';");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX IF EXISTS \"IX_runs_Owner_PendingEvaluation\";");
        }
    }
}
