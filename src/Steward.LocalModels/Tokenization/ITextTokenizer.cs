namespace Steward.LocalModels.Tokenization;

/// <summary>
/// Turns text into a model's token ids and back, the way llama.cpp does for the same GGUF file.
/// Implementations are immutable after construction and safe to use from several threads at once;
/// the <see cref="TokenStreamDecoder"/>s they hand out are not (one per generation).
/// </summary>
internal interface ITextTokenizer
{
    /// <summary>Number of tokens in the vocabulary.</summary>
    int VocabularySize { get; }

    /// <summary>Beginning-of-sequence token, when the model has one.</summary>
    int? BosId { get; }

    /// <summary>End-of-sequence token, when the model has one.</summary>
    int? EosId { get; }

    /// <summary>Whether the model expects BOS in front of a prompt (GGUF <c>tokenizer.ggml.add_bos_token</c>).</summary>
    bool AddBos { get; }

    /// <summary>
    /// Encodes <paramref name="text"/>. With <paramref name="parseSpecialTokens"/>, control tokens written in the
    /// text (such as <c>&lt;|im_start|&gt;</c>) become their single ids; without it they are tokenized as plain text.
    /// User-defined tokens are always matched, as in llama.cpp. With <paramref name="addBos"/> the BOS id is
    /// prepended (when the model has one) and EOS appended when the model's <c>add_eos_token</c> asks for it.
    /// </summary>
    IReadOnlyList<int> Encode(string text, bool addBos, bool parseSpecialTokens);

    /// <summary>Decodes ids to text; control tokens (BOS, EOS, chat markers) produce no text.</summary>
    string Decode(IEnumerable<int> ids);

    /// <summary>A decoder that turns ids into text one at a time without splitting multi-byte characters.</summary>
    /// <param name="stripLeadingSpace">
    /// Drop the space SentencePiece puts in front of the first word (an answer generated after a chat prompt
    /// decodes to "Hello", not " Hello", as <see cref="Decode"/> and Hugging Face do). Only tokenizers that add a
    /// dummy prefix strip anything; leave false when continuing text, where that space is real.
    /// </param>
    TokenStreamDecoder CreateStreamDecoder(bool stripLeadingSpace = false);

    /// <summary>True for EOS, EOT and the control tokens that end a chat turn (<c>&lt;|im_end|&gt;</c>, <c>&lt;|eot_id|&gt;</c>...).</summary>
    bool IsEndOfGeneration(int id);

    /// <summary>Number of tokens <paramref name="text"/> encodes to, without BOS, special tokens parsed.</summary>
    int CountTokens(string text);

    /// <summary>The vocabulary text of a token (as stored in the GGUF file), or null for an id out of range.</summary>
    string? GetTokenText(int id);

    /// <summary>The id of the token whose vocabulary text is exactly <paramref name="text"/>, if any.</summary>
    int? FindToken(string text);

    /// <summary>
    /// The bytes token <paramref name="id"/> adds to the decoded text (empty for control tokens; a single byte for
    /// byte tokens, which may be part of a multi-byte character). Used by constrained decoding.
    /// </summary>
    ReadOnlyMemory<byte> GetTokenBytes(int id);
}
