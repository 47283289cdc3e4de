using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class FacetRollups : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "first_token_rollups",
                columns: table => new
                {
                    Day = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    PresetName = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Provider = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Model = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Bucket = table.Column<int>(type: "integer", nullable: false),
                    Runs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_first_token_rollups", x => new { x.Day, x.PresetName, x.Provider, x.Model, x.Bucket });
                });

            migrationBuilder.CreateTable(
                name: "run_facet_rollups",
                columns: table => new
                {
                    Facet = table.Column<string>(type: "character varying(10)", maxLength: 10, nullable: false),
                    Value = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Day = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    PresetName = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Provider = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Model = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Runs = table.Column<long>(type: "bigint", nullable: false),
                    PricedRuns = table.Column<long>(type: "bigint", nullable: false),
                    UnpricedRuns = table.Column<long>(type: "bigint", nullable: false),
                    CostNanoUsd = table.Column<long>(type: "bigint", nullable: false),
                    UncachedInput = table.Column<long>(type: "bigint", nullable: false),
                    CachedInput = table.Column<long>(type: "bigint", nullable: false),
                    NonReasoningOutput = table.Column<long>(type: "bigint", nullable: false),
                    Reasoning = table.Column<long>(type: "bigint", nullable: false),
                    FeedbackUp = table.Column<long>(type: "bigint", nullable: false),
                    FeedbackDown = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_run_facet_rollups", x => new { x.Facet, x.Value, x.Day, x.PresetName, x.Provider, x.Model, x.Status });
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "first_token_rollups");

            migrationBuilder.DropTable(
                name: "run_facet_rollups");
        }
    }
}
