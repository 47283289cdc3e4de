using Steward.Tests.TestSupport;

namespace Steward.Tests.Budgets;

/// <summary>Budget settings are checked when a process starts, every problem named with the key to fix.</summary>
public sealed class BudgetOptionsValidationTests : CliProcessTest
{
    [Fact]
    public async Task AnyCommand_BadPoliciesAndTimeZone_ExitsBeforeRunningNamingEveryKey()
    {
        var env = new Dictionary<string, string>(Env)
        {
            ["Steward__Budgets__TimeZone"] = "Mars/Olympus",
            ["Steward__Budgets__Policies__0__Id"] = "ok",
            ["Steward__Budgets__Policies__0__Scope"] = "Global",
            ["Steward__Budgets__Policies__0__MaxUsd"] = "5",
            ["Steward__Budgets__Policies__1__Id"] = "no-limit",
            ["Steward__Budgets__Policies__1__Scope"] = "Agent",
            ["Steward__Budgets__Policies__2__Id"] = "ok",
            ["Steward__Budgets__Policies__2__Scope"] = "Request",
            ["Steward__Budgets__Policies__2__Period"] = "Daily",
            ["Steward__Budgets__Policies__2__MaxTokens"] = "100",
        };

        var (exit, stdout, stderr) = await CliProcess.RunAsync(env, "sessions", "list");

        Assert.Equal(4, exit);
        Assert.Equal("", stdout);
        var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: Invalid configuration:", error, StringComparison.Ordinal);
        Assert.Contains("Steward:Budgets:TimeZone 'Mars/Olympus'", error, StringComparison.Ordinal);
        Assert.Contains("Steward:Budgets:Policies:1: budget 'no-limit' has neither MaxTokens nor MaxUsd", error, StringComparison.Ordinal);
        Assert.Contains("Steward:Budgets:Policies:2: budget 'ok': a request budget has no period", error, StringComparison.Ordinal);
        Assert.Contains("Steward:Budgets:Policies:2: budget 'ok' is defined twice", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Policies:0", error, StringComparison.Ordinal);
    }
}
