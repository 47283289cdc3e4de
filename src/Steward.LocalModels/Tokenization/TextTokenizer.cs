using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Tokenization;

/// <summary>Builds the right <see cref="ITextTokenizer"/> for a model.</summary>
internal static class TextTokenizer
{
    /// <exception cref="UnsupportedTokenizerException">Unknown model kind or pre-tokenizer, or bad vocabulary data.</exception>
    public static ITextTokenizer Create(TokenizerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Model switch
        {
            "llama" => new SentencePieceTokenizer(spec),
            "gpt2" => new ByteLevelBpeTokenizer(spec),
            _ => throw new UnsupportedTokenizerException(
                $"Tokenizer model '{spec.Model}' is not supported; supported are 'llama' (SentencePiece) and 'gpt2' (byte-level BPE)."),
        };
    }

    /// <inheritdoc cref="Create(TokenizerSpec)"/>
    public static ITextTokenizer FromGguf(GgufFile file) => Create(TokenizerSpec.FromGguf(file));
}
