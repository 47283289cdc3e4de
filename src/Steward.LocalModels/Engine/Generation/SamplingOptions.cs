namespace Steward.LocalModels.Engine.Generation;

/// <summary>
/// Sampling settings, applied in llama.cpp's order: repetition penalty, top-k, top-p, min-p, temperature.
/// Temperature 0 (or below) is greedy decoding. Defaults are llama.cpp's.
/// </summary>
internal sealed record SamplingOptions
{
    public float Temperature { get; init; } = 0.8f;

    /// <summary>Keep the k most likely tokens; 0 disables.</summary>
    public int TopK { get; init; } = 40;

    /// <summary>Keep the smallest set whose probability reaches p; 1 disables.</summary>
    public float TopP { get; init; } = 0.95f;

    /// <summary>Drop tokens below min_p × the top probability; 0 disables.</summary>
    public float MinP { get; init; } = 0.05f;

    /// <summary>Penalty on tokens seen in the last <see cref="RepeatLastN"/> tokens; 1 disables.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    public int RepeatLastN { get; init; } = 64;

    /// <summary>Seed for reproducible sampling; null draws from a random seed.</summary>
    public long? Seed { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };
}
