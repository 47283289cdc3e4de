using Microsoft.Extensions.Options;

namespace Steward.Budgets;

/// <summary>Checks the budgets in configuration at start, listing every problem with the policy it belongs to.</summary>
internal sealed class BudgetPoliciesValidator : IValidateOptions<BudgetOptions>
{
    public ValidateOptionsResult Validate(string? name, BudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Policies
            .SelectMany((p, i) => p.Validate(options.AllowPrivateWebhooks).Select(problem => $"Steward:Budgets:Policies:{i}: {problem}."))
            .ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
