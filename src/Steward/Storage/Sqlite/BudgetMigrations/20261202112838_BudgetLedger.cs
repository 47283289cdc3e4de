using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Sqlite.BudgetMigrations
{
    /// <inheritdoc />
    public partial class BudgetLedger : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "budget_alerts",
                columns: table => new
                {
                    PolicyId = table.Column<string>(type: "TEXT", nullable: false),
                    PeriodStart = table.Column<string>(type: "TEXT", nullable: false),
                    Threshold = table.Column<int>(type: "INTEGER", nullable: false),
                    FiredAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_alerts", x => new { x.PolicyId, x.PeriodStart, x.Threshold });
                });

            migrationBuilder.CreateTable(
                name: "budget_counters",
                columns: table => new
                {
                    ScopeKey = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    PeriodStart = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    SpentTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    SpentNanoUsd = table.Column<long>(type: "INTEGER", nullable: false),
                    ReservedTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    ReservedNanoUsd = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_counters", x => new { x.ScopeKey, x.PeriodStart });
                });

            migrationBuilder.CreateTable(
                name: "budget_reservations",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    Lines = table.Column<string>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ExpiresAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Owner = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_reservations", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_budget_reservations_ExpiresAt",
                table: "budget_reservations",
                column: "ExpiresAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "budget_alerts");

            migrationBuilder.DropTable(
                name: "budget_counters");

            migrationBuilder.DropTable(
                name: "budget_reservations");
        }
    }
}
