using System.CommandLine;

namespace Steward.Cli.Commands;

/// <summary>Options shared by the commands that run an agent.</summary>
internal static class RunOptions
{
    public static Option<string> Agent() => new("--agent", "-a")
    {
        Description = "The agent preset to use (see 'steward presets list').",
        Required = true,
    };

    public static Option<string?> Provider() => new("--provider") { Description = "Use this configured provider instead of the preset's or the default." };

    public static Option<string?> Model() => new("--model") { Description = "Use this model (or deployment) instead of the preset's or the provider's default." };

    public static Option<int?> MaxTokens()
    {
        var option = new Option<int?>("--max-tokens") { Description = "Cap the answer at this many tokens." };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is <= 0)
            {
                result.AddError("--max-tokens must be a positive number.");
            }
        });
        return option;
    }
}
