namespace Steward.LocalModels.Engine;

/// <summary>Engine-level settings (the public LocalModelOptions maps onto these).</summary>
internal sealed record EngineOptions
{
    /// <summary>Compute threads including the caller; default <see cref="Environment.ProcessorCount"/>.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Upper bound on the context window per slot; the model's own context_length applies when smaller.</summary>
    public int? ContextLength { get; init; }

    /// <summary>
    /// AVX2 integer kernels where the CPU has them; false computes the same integer lanes element by element (the
    /// results are bit-identical, the tests compare the two).
    /// </summary>
    public bool UseSimd { get; init; } = true;

    /// <summary>Token rows processed together through the layers (memory; the results do not depend on it).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Sequences held at once, each with its own KV cache region.</summary>
    public int Slots { get; init; } = 1;

    /// <summary>Bytes the KV cache may take; null means half of the memory available to the process.</summary>
    public long? MemoryBudgetBytes { get; init; }
}
