namespace Steward.LocalModels.Engine;

/// <summary>Engine-level settings (the public LocalModelOptions maps onto these).</summary>
internal sealed record EngineOptions
{
    /// <summary>Compute threads including the caller; default <see cref="Environment.ProcessorCount"/>.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Upper bound on the context window; the model's own context_length applies when smaller.</summary>
    public int? ContextLength { get; init; }

    /// <summary>SIMD kernels when the CPU has AVX2+FMA; false forces the scalar reference path (tests compare the two).</summary>
    public bool UseSimd { get; init; } = true;

    /// <summary>Prompt tokens processed per forward pass.</summary>
    public int BatchSize { get; init; } = 64;
}
