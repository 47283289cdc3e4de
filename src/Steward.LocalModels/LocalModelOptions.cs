using System.ComponentModel.DataAnnotations;

namespace Steward.LocalModels;

/// <summary>
/// Settings for a GGUF model run in-process by <see cref="LocalChatClient"/>. Bound from configuration and
/// validated with data annotations.
/// </summary>
public sealed class LocalModelOptions
{
    /// <summary>Path of the .gguf file. Required when options are bound from configuration; <see cref="LocalChatClient.Load"/> takes the path directly.</summary>
    [Required]
    public string ModelPath { get; set; } = string.Empty;

    /// <summary>Compute threads (the calling thread included). Null uses <see cref="Environment.ProcessorCount"/>.</summary>
    [Range(1, 1024)]
    public int? Threads { get; set; }

    /// <summary>
    /// Upper bound on the context window in tokens. The model's own <c>context_length</c> applies when it is smaller.
    /// Default 4096: the fp16 KV cache grows linearly with it (a 135M model needs about 90 MiB at 4096). Null uses the
    /// model's full context.
    /// </summary>
    [Range(16, 1 << 20)]
    public int? ContextLength { get; set; } = 4096;

    /// <summary>Largest accepted <see cref="ParallelRequests"/>.</summary>
    public const int MaxParallelRequests = 64;

    /// <summary>
    /// Calls that generate at once, each with its own KV cache (up to <see cref="ContextLength"/> tokens each; the cache
    /// takes memory only as it fills); their tokens are decoded in one batch per step. Further calls wait their turn.
    /// Default 4.
    /// </summary>
    [Range(1, MaxParallelRequests)]
    public int ParallelRequests { get; set; } = 4;

    /// <summary>
    /// Reads the model into the process's own memory, backed by 2 MiB pages where Linux allows it, instead of mapping the
    /// file: generation reads every weight once per token, and through the mapping's 4 KiB pages address translation
    /// costs a token 8-20%. The memory is the file's size either way (a mapped model is read whole by its first token);
    /// false shares the file's pages with other processes that map the same model. Default true.
    /// </summary>
    public bool ResidentWeights { get; set; } = true;

    /// <summary>Prompt tokens evaluated together in one forward pass. Default 128.</summary>
    [Range(1, 4096)]
    public int BatchSize { get; set; } = 128;
}
