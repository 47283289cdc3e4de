using System.CommandLine;
using Steward.Cli.Parsing;

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

    public static Option<string?> Model()
    {
        var option = new Option<string?>("--model") { Description = "Use this model (or deployment) instead of the preset's or the provider's default." };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } model && Steward.Providers.ModelNames.Problem(model) is { } problem)
            {
                result.AddError($"--model: '{Steward.Providers.ModelNames.Shown(model)}' {problem}.");
            }
        });
        return option;
    }

    /// <summary>The most a model is asked to write; far above any model's output limit, far below an overflow.</summary>
    public const int MaxOutputTokens = 1_000_000;

    public static Option<int?> MaxTokens() =>
        new Option<int?>("--max-tokens") { Description = "Cap the answer at this many tokens." }.Within(1, MaxOutputTokens);

    public static Option<string[]> Tags()
    {
        var option = new Option<string[]>("--tag") { Description = "Label the run (repeat for several); History, Traces and Analytics filter by tag.", AllowMultipleArgumentsPerToken = false };
        option.Validators.Add(result =>
        {
            try
            {
                _ = Steward.Agents.RunMetadata.Tags(result.GetValueOrDefault<string[]>());
            }
            catch (ArgumentException ex)
            {
                result.AddError("--tag: " + ex.Message);
            }
        });
        return option;
    }

    public static Option<string?> User()
    {
        var option = new Option<string?>("--user") { Description = "The id of the user the run is for (your own id for them); Analytics shows cost by user." };
        option.Validators.Add(result =>
        {
            try
            {
                _ = Steward.Agents.RunMetadata.UserId(result.GetValueOrDefault<string?>());
            }
            catch (ArgumentException ex)
            {
                result.AddError("--user: " + ex.Message);
            }
        });
        return option;
    }
}
