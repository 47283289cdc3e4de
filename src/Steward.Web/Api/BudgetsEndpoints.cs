using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Budgets;
using Steward.Web.Hosting;

namespace Steward.Web.Api;

/// <summary>Budgets: every budget's limit, what is spent and what running requests hold in the current period (as <c>steward budgets list</c>).</summary>
internal static class BudgetsEndpoints
{
    public static RouteGroupBuilder MapBudgetsEndpoints(this RouteGroupBuilder api)
    {
        var budgets = api.MapGroup("/budgets").WithTags("Budgets").RequireAuthorization(StewardPolicies.Viewer);
        budgets.MapGet("/", ListAsync).WithSummary("Every budget's status this period");
        budgets.MapGet("/{name}", GetAsync).WithSummary("One budget's status this period, by name");
        return budgets;
    }

    internal static async Task<Ok<IReadOnlyList<BudgetStatus>>> ListAsync(BudgetStatusReader reader, CancellationToken cancellationToken) =>
        TypedResults.Ok(await reader.ReadAsync(cancellationToken).ConfigureAwait(false));

    internal static async Task<Results<Ok<BudgetStatus>, ProblemHttpResult>> GetAsync(string name, BudgetStatusReader reader, CancellationToken cancellationToken)
    {
        var all = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return all.FirstOrDefault(b => string.Equals(b.Policy.Id, name, StringComparison.Ordinal)) is { } found
            ? TypedResults.Ok(found)
            : throw ApiProblem.NotFound("Budget not found", $"No budget '{name}'; GET /api/budgets lists them ({string.Join(", ", all.Select(b => b.Policy.Id))}).");
    }
}
