using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.Migrations
{
    /// <summary>
    /// Hand-written: a run's inline call (migration InlineModelCalls) no longer stores what its run already says. A run's
    /// first call takes the run's id, so its <c>CallId</c> is left empty, and a completed call leaves <c>CallStatus</c>
    /// empty; the view reads both back (<c>COALESCE</c>), and <c>CallSequence</c>, set for every inline call, marks one.
    /// Why: the update that stores a run's end grows the run's row by what it adds, and a row that no longer fits its page
    /// makes SQLite rebalance the page with its neighbours, on the single writer; the call's columns were the larger part
    /// of what a governed run adds there. Rows stored before keep their values, which the view reads as before. Replayed
    /// under callgrind (the writer's statements on this schema and its triggers, 16 run ends and 16 starts a commit, 64 in
    /// flight, four seeds), the instructions SQLite spends per governed run above an ungoverned one fell from 10-25 k to
    /// 4-8 k: a smaller growth rebalances pages far less often.
    /// </summary>
    [DbContext(typeof(StewardDbContext))]
    [Migration("20261205150000_InlineCallsKeepOnlyWhatDiffers")]
    public partial class InlineCallsKeepOnlyWhatDiffers : Migration
    {
        /// <summary>
        /// SQLite's view. The two read-back values are cast to TEXT: an expression has no affinity, and SQLite pushes a
        /// filter on a column into the arms of a compound view only when every column has the same affinity in each arm
        /// (without it, reading a few runs' calls scanned every run: ModelCallReadPlanTests).
        /// </summary>
        internal static string CreateView => View("""CAST(COALESCE("CallId", "Id") AS TEXT)""", """CAST(COALESCE("CallStatus", 'Completed') AS TEXT)""");

        /// <summary>PostgreSQL's view: its columns are typed, the id a uuid.</summary>
        internal static string CreatePostgresView => View("""COALESCE("CallId", "Id")""", """COALESCE("CallStatus", 'Completed')""");

        // The earlier view's values, with the read-back id and status in place of the stored ones.
        private static string View(string id, string status) => $"""
            CREATE VIEW "model_calls" ({InlineModelCalls.CallColumns}) AS
            SELECT {InlineModelCalls.InlineCallValues.Replace("\"CallId\"", id, StringComparison.Ordinal).Replace("\"CallStatus\"", status, StringComparison.Ordinal)} FROM "runs" WHERE "CallSequence" IS NOT NULL
            UNION ALL
            SELECT {InlineModelCalls.CallColumns} FROM "model_call_rows";
            """;

        /// <summary>Both backends' way back: every inline call states its id and status again, as the earlier view reads them.</summary>
        internal const string StateIdsAndStatuses = """
            UPDATE "runs" SET "CallId" = COALESCE("CallId", "Id"), "CallStatus" = COALESCE("CallStatus", 'Completed')
            WHERE "CallSequence" IS NOT NULL AND ("CallId" IS NULL OR "CallStatus" IS NULL);
            """;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP VIEW \"model_calls\";");
            migrationBuilder.Sql(CreateView);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP VIEW \"model_calls\";");
            migrationBuilder.Sql(StateIdsAndStatuses);
            migrationBuilder.Sql(InlineModelCalls.CreateView);
        }
    }
}
