using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Tokenization;

/// <summary>
/// Everything needed to build a tokenizer, as plain data: read from a GGUF file by <see cref="FromGguf"/> or
/// written by hand in tests. Ids are null when the model has no such token.
/// </summary>
/// <param name="Model"><c>tokenizer.ggml.model</c>: <c>llama</c> (SentencePiece) or <c>gpt2</c> (byte-level BPE).</param>
/// <param name="Tokens">Token texts by id.</param>
/// <param name="Scores">SentencePiece merge scores by id (llama kind); null for BPE.</param>
/// <param name="TokenTypes">GGUF token types by id; null means all normal.</param>
/// <param name="Merges">BPE merges, "left right", by rank (gpt2 kind).</param>
/// <param name="PreTokenizer"><c>tokenizer.ggml.pre</c>; null means llama.cpp's <c>default</c>.</param>
internal sealed record TokenizerSpec(
    string Model,
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float>? Scores = null,
    IReadOnlyList<int>? TokenTypes = null,
    IReadOnlyList<string>? Merges = null,
    string? PreTokenizer = null)
{
    public int? BosId { get; init; }

    public int? EosId { get; init; }

    public int? UnknownId { get; init; }

    public int? PaddingId { get; init; }

    public int? EotId { get; init; }

    /// <summary>GGUF <c>tokenizer.ggml.add_bos_token</c>; null means the model kind's default (llama.cpp's rule).</summary>
    public bool? AddBosToken { get; init; }

    public bool? AddEosToken { get; init; }

    /// <summary>GGUF <c>tokenizer.ggml.add_space_prefix</c>; null means true for SentencePiece, false for BPE.</summary>
    public bool? AddSpacePrefix { get; init; }

    /// <summary><c>tokenizer.chat_template</c>, kept here because it travels with the vocabulary.</summary>
    public string? ChatTemplate { get; init; }

    public TokenType GetTokenType(int id) =>
        TokenTypes is { } types && id >= 0 && id < types.Count ? (TokenType)types[id] : TokenType.Normal;

    /// <summary>Reads the <c>tokenizer.*</c> keys of an open GGUF file.</summary>
    /// <exception cref="UnsupportedTokenizerException">The file has no tokenizer vocabulary.</exception>
    public static TokenizerSpec FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var tokens = file.GetStringArray("tokenizer.ggml.tokens")
            ?? throw new UnsupportedTokenizerException($"'{file.Path}' has no tokenizer.ggml.tokens array: the model carries no vocabulary.");
        var model = file.GetString("tokenizer.ggml.model")
            ?? throw new UnsupportedTokenizerException($"'{file.Path}' has no tokenizer.ggml.model key.");

        return new TokenizerSpec(
            model,
            tokens,
            file.GetSingleArray("tokenizer.ggml.scores"),
            file.GetInt32Array("tokenizer.ggml.token_type"),
            file.GetStringArray("tokenizer.ggml.merges"),
            file.GetString("tokenizer.ggml.pre"))
        {
            BosId = TokenId(file, "tokenizer.ggml.bos_token_id", tokens.Length),
            EosId = TokenId(file, "tokenizer.ggml.eos_token_id", tokens.Length),
            UnknownId = TokenId(file, "tokenizer.ggml.unknown_token_id", tokens.Length),
            PaddingId = TokenId(file, "tokenizer.ggml.padding_token_id", tokens.Length),
            EotId = TokenId(file, "tokenizer.ggml.eot_token_id", tokens.Length),
            AddBosToken = file.GetBoolean("tokenizer.ggml.add_bos_token"),
            AddEosToken = file.GetBoolean("tokenizer.ggml.add_eos_token"),
            AddSpacePrefix = file.GetBoolean("tokenizer.ggml.add_space_prefix"),
            ChatTemplate = file.GetString("tokenizer.chat_template"),
        };
    }

    // Converters write uint32.MaxValue (-1) for "no such token"; anything outside the vocabulary means the same.
    private static int? TokenId(GgufFile file, string key, int vocabularySize) =>
        file.GetInteger(key) is { } id && id >= 0 && id < vocabularySize ? (int)id : null;
}
