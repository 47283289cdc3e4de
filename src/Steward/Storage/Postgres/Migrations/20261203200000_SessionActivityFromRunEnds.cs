using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: a run's end is its session's latest activity (<c>UpdatedAt</c>), kept by the database as SQLite's
    /// trigger keeps it (there in the same update as the session's totals), so the run writer no longer touches the session
    /// after every run's end. A run the sweep marks Interrupted (its process gone) is not activity, as before; a run stored
    /// whole (the gateway's write-behind runs) is still touched by the writer.
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261203200000_SessionActivityFromRunEnds")]
    public partial class SessionActivityFromRunEnds : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE FUNCTION steward_session_activity() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE sessions SET "UpdatedAt" = GREATEST("UpdatedAt", NEW."EndedAt") WHERE "Id" = NEW."SessionId";
                    RETURN NULL;
                END $$;
                CREATE TRIGGER session_activity_runs AFTER UPDATE ON runs FOR EACH ROW
                    WHEN (OLD."EndedAt" IS NULL AND NEW."EndedAt" IS NOT NULL AND NEW."Status" <> 'Interrupted')
                    EXECUTE FUNCTION steward_session_activity();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS session_activity_runs ON runs;
                DROP FUNCTION IF EXISTS steward_session_activity();
                """);
        }
    }
}
