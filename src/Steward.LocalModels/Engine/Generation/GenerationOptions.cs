namespace Steward.LocalModels.Engine.Generation;

/// <summary>What to generate: how many tokens at most, how to sample, and which token ids end the generation.</summary>
internal sealed record GenerationOptions
{
    /// <summary>Maximum tokens to generate; null means until the context window is full.</summary>
    public int? MaxTokens { get; init; }

    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;

    /// <summary>End-of-generation ids (EOS, EOT, chat end markers); the stop token itself is not yielded.</summary>
    public IReadOnlySet<int> StopTokens { get; init; } = new HashSet<int>();

    /// <summary>Restricts the tokens sampled (structured output); generation ends when it is complete. Null: none.</summary>
    public Constraints.ITokenConstraint? Constraint { get; init; }
}

/// <summary>Why a generation ended.</summary>
internal enum GenerationFinish
{
    None,
    StopToken,
    MaxTokens,
    ContextFull,
    Stopped,
}

/// <summary>Counts and the end reason of one generation, filled in while it runs.</summary>
internal sealed class GenerationResult
{
    public int PromptTokens { get; set; }

    public int GeneratedTokens { get; set; }

    /// <summary>Prompt tokens whose KV entries were reused from the previous generation.</summary>
    public int ReusedPromptTokens { get; set; }

    public GenerationFinish Finish { get; set; }
}
