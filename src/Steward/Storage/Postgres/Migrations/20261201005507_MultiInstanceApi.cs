using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class MultiInstanceApi : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "FirstAdmin",
                table: "users",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "CancelRequestedAt",
                table: "runs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "run_stream_events",
                columns: table => new
                {
                    RunId = table.Column<Guid>(type: "uuid", nullable: false),
                    Index = table.Column<int>(type: "integer", nullable: false),
                    Name = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Data = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_run_stream_events", x => new { x.RunId, x.Index });
                });

            migrationBuilder.CreateIndex(
                name: "IX_users_FirstAdmin",
                table: "users",
                column: "FirstAdmin",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_runs_Owner_CancelRequestedAt",
                table: "runs",
                columns: new[] { "Owner", "CancelRequestedAt" },
                filter: "\"CancelRequestedAt\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_run_stream_events_CreatedAt",
                table: "run_stream_events",
                column: "CreatedAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "run_stream_events");

            migrationBuilder.DropIndex(
                name: "IX_users_FirstAdmin",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_runs_Owner_CancelRequestedAt",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "FirstAdmin",
                table: "users");

            migrationBuilder.DropColumn(
                name: "CancelRequestedAt",
                table: "runs");
        }
    }
}
