using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <summary>
    /// Hand-written: the same as SQLite's migration of this name (a run's inline call leaves its id and a completed status
    /// to its run; the view reads them back), so both stores keep and read a call alike.
    /// </summary>
    [DbContext(typeof(PostgresStewardDbContext))]
    [Migration("20261205150000_InlineCallsKeepOnlyWhatDiffers")]
    public partial class InlineCallsKeepOnlyWhatDiffers : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP VIEW \"model_calls\";");
            migrationBuilder.Sql(Sqlite.Migrations.InlineCallsKeepOnlyWhatDiffers.CreatePostgresView);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP VIEW \"model_calls\";");
            migrationBuilder.Sql(Sqlite.Migrations.InlineCallsKeepOnlyWhatDiffers.StateIdsAndStatuses);
            migrationBuilder.Sql(Sqlite.Migrations.InlineModelCalls.CreateView);
        }
    }
}
