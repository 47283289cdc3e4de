using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Steward.Storage.Migrations
{
    /// <inheritdoc />
    public partial class AnalyticsCostByDayIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Analytics groups cost by UTC day (the first ten characters of the stored ISO timestamp), agent, provider
            // and model. This index is in that order and holds every summed column, so SQLite reads it in order without
            // touching the runs or sorting them. EF Core cannot declare an index on an expression, hence raw SQL.
            migrationBuilder.Sql(
                "CREATE INDEX \"IX_runs_cost_by_day\" ON \"runs\" (substr(\"StartedAt\", 1, 10), \"PresetName\", \"Provider\", \"Model\", " +
                "\"CostNanoUsd\", \"InputTokens\", \"CachedInputTokens\", \"OutputTokens\", \"ReasoningTokens\");");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX IF EXISTS \"IX_runs_cost_by_day\";");
        }
    }
}
