using Microsoft.Extensions.Options;

namespace Steward.Budgets;

/// <summary>Checks <see cref="BudgetOptions"/> once, at start, listing every problem with the key to fix.</summary>
internal sealed class BudgetOptionsValidator : IValidateOptions<BudgetOptions>
{
    private const string Section = "Steward:Budgets";

    public ValidateOptionsResult Validate(string? name, BudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        try
        {
            BudgetPeriods.FindZone(options.TimeZone);
        }
        catch (ArgumentException ex)
        {
            problems.Add(ex.Message);
        }

        if (options.ReservationTimeout < TimeSpan.FromSeconds(3))
        {
            problems.Add($"{Section}:ReservationTimeout must be at least 00:00:03 (holds and leases are renewed every third of it), e.g. 00:02:00.");
        }

        if (options.EscrowFlushInterval < TimeSpan.Zero || options.EscrowFlushInterval >= options.ReservationTimeout / 3)
        {
            problems.Add($"{Section}:EscrowFlushInterval must be zero or more and well under a third of ReservationTimeout, e.g. 00:00:00.250.");
        }

        if (options.EscrowIdleReturn <= TimeSpan.Zero)
        {
            problems.Add($"{Section}:EscrowIdleReturn must be more than zero, e.g. 00:00:01.");
        }

        if (options.DefaultMaxOutputTokens is < 1 or > 10_000_000)
        {
            problems.Add($"{Section}:DefaultMaxOutputTokens must be between 1 and 10000000 (the output cap sent when a preset and request set none).");
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Policies.Count; i++)
        {
            var policy = options.Policies[i];
            var key = $"{Section}:Policies:{i}";
            foreach (var problem in policy.Validate(options.AllowPrivateWebhooks))
            {
                problems.Add($"{key}: {problem}.");
            }

            if (!string.IsNullOrWhiteSpace(policy.Id) && !ids.Add(policy.Id))
            {
                problems.Add($"{key}: budget '{policy.Id}' is defined twice; give each policy its own Id.");
            }

            if (policy.Id.StartsWith("preset:", StringComparison.Ordinal))
            {
                problems.Add($"{key}: ids starting with 'preset:' are reserved for presets' own budgets; choose another Id.");
            }
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
