using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Telemetry.Migrations
{
    /// <inheritdoc />
    public partial class TraceStore : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "trace_spans",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    TraceId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    SpanId = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    ParentSpanId = table.Column<string>(type: "TEXT", maxLength: 16, nullable: true),
                    Name = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    Source = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Kind = table.Column<int>(type: "INTEGER", nullable: false),
                    StartTime = table.Column<DateTime>(type: "TEXT", nullable: false),
                    DurationTicks = table.Column<long>(type: "INTEGER", nullable: false),
                    StatusCode = table.Column<int>(type: "INTEGER", nullable: false),
                    StatusMessage = table.Column<string>(type: "TEXT", nullable: true),
                    Attributes = table.Column<string>(type: "TEXT", nullable: false),
                    Events = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_trace_spans", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_trace_spans_StartTime",
                table: "trace_spans",
                column: "StartTime");

            migrationBuilder.CreateIndex(
                name: "IX_trace_spans_TraceId",
                table: "trace_spans",
                column: "TraceId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "trace_spans");
        }
    }
}
