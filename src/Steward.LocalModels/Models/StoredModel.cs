namespace Steward.LocalModels.Models;

/// <summary>A GGUF file in the model cache.</summary>
/// <param name="Name">File name without <c>.gguf</c>; for pulled known models, the known name.</param>
/// <param name="Path">Full path of the file.</param>
/// <param name="SizeBytes">File size.</param>
/// <param name="LastModifiedUtc">Last write time.</param>
/// <param name="Known">The catalog entry it came from, when it is a known model.</param>
public sealed record StoredModel(string Name, string Path, long SizeBytes, DateTimeOffset LastModifiedUtc, KnownModel? Known);

/// <summary>What a GGUF file's metadata says about the model in it.</summary>
public sealed record ModelInfo
{
    /// <summary>Full path of the file.</summary>
    public required string Path { get; init; }

    /// <summary>File size.</summary>
    public required long SizeBytes { get; init; }

    /// <summary><c>general.name</c>, when present.</summary>
    public string? DisplayName { get; init; }

    /// <summary><c>general.architecture</c> (for example <c>llama</c>, <c>qwen2</c>).</summary>
    public string? Architecture { get; init; }

    /// <summary>Total number of weights over all tensors.</summary>
    public long ParameterCount { get; init; }

    /// <summary>Training context length in tokens (<c>{arch}.context_length</c>).</summary>
    public long? ContextLength { get; init; }

    /// <summary>Embedding width (<c>{arch}.embedding_length</c>).</summary>
    public long? EmbeddingLength { get; init; }

    /// <summary>Number of transformer blocks (<c>{arch}.block_count</c>).</summary>
    public long? LayerCount { get; init; }

    /// <summary>Tensor count per storage type (for example <c>Q8_0: 210, F32: 61</c>).</summary>
    public IReadOnlyDictionary<string, int> TensorTypes { get; init; } = new Dictionary<string, int>();

    /// <summary><c>tokenizer.ggml.model</c>: <c>llama</c> (SentencePiece) or <c>gpt2</c> (byte-level BPE).</summary>
    public string? TokenizerModel { get; init; }

    /// <summary><c>tokenizer.ggml.pre</c>, for byte-level BPE vocabularies.</summary>
    public string? PreTokenizer { get; init; }

    /// <summary>Vocabulary size.</summary>
    public int VocabularySize { get; init; }

    /// <summary>The chat format Steward recognised in <c>tokenizer.chat_template</c> (<c>None</c> when there is none).</summary>
    public required string ChatTemplateFamily { get; init; }
}
