using Microsoft.Extensions.Options;
using Steward.Budgets;

namespace Steward.Tests.Budgets;

/// <summary>Budgets from configuration are checked at start, every problem named with its policy.</summary>
public sealed class BudgetPolicyValidationTests
{
    [Fact]
    public void Validate_LimitPastWhatTheLedgerCounts_NamedInsteadOfOverflowingLater()
    {
        var options = new BudgetOptions();
        options.Policies.Add(new BudgetPolicy { Id = "huge", Scope = BudgetScope.Global, MaxUsd = 79228162514264337593543950335m });
        options.Policies.Add(new BudgetPolicy { Id = "fine", Scope = BudgetScope.Global, MaxUsd = 200 });

        var failures = new BudgetOptionsValidator().Validate(null, options).Failures!;

        Assert.Equal("Steward:Budgets:Policies:0: budget 'huge': limits are at most 1,000,000,000,000,000 tokens and 1,000,000,000 USD.", Assert.Single(failures));
    }
}
