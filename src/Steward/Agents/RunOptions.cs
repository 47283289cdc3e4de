using Microsoft.Extensions.Options;

namespace Steward.Agents;

/// <summary>Limits on what one request may ask. Bound from <c>Steward:Runs</c>; validated at start.</summary>
public sealed class RunOptions
{
    /// <summary>
    /// The most characters a request's new input may have (the question, or a stateless request's whole conversation).
    /// Longer requests are refused before anything is counted or sent, naming this setting. Default 1,000,000 (about a
    /// quarter of a million tokens, more than most models' context).
    /// </summary>
    public int MaxInputCharacters { get; set; } = 1_000_000;
}

/// <summary>Checks <see cref="RunOptions"/> once, at start.</summary>
internal sealed class RunOptionsValidator : IValidateOptions<RunOptions>
{
    public ValidateOptionsResult Validate(string? name, RunOptions options) =>
        options.MaxInputCharacters is < 1 or > 100_000_000
            ? ValidateOptionsResult.Fail("Steward:Runs:MaxInputCharacters must be between 1 and 100000000.")
            : ValidateOptionsResult.Success;
}
