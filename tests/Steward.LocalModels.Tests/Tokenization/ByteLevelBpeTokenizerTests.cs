using Steward.LocalModels.Tokenization;
using Xunit;

namespace Steward.LocalModels.Tests.Tokenization;

public sealed class ByteLevelBpeTokenizerTests
{
    // Byte-level vocabulary: "Ġ" is the byte character for a space, "Ã" and "©" are the bytes C3 A9 of "é".
    private static readonly string[] Vocabulary =
        ["a", "b", "c", "Ġ", "ab", "abc", "Ġa", "Ġab", "<|im_end|>", "<|im_start|>", "Ã", "©", "Ã©", "<|endoftext|>", "<tool>"];

    private static readonly int[] Types = [1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 3, 4];

    private static ITextTokenizer Create(string[]? merges = null, string? pre = "gpt-2") =>
        TextTokenizer.Create(new TokenizerSpec("gpt2", Vocabulary, null, Types, merges ?? ["a b", "ab c", "Ġ a", "Ġa b", "Ã ©"], pre)
        {
            BosId = 13,
            EosId = 13,
        });

    [Fact]
    public void Encode_HandBuiltMerges_AppliesLowestRankFirst()
    {
        var tokenizer = Create();

        // "abc" -> a+b (rank 0) -> ab+c (rank 1) = "abc" (5).
        // " ab" -> Ġ a b: a+b (rank 0) beats Ġ+a (rank 2); "Ġ ab" is no merge, so Ġ (3), ab (4).
        var ids = tokenizer.Encode("abc ab", addBos: false, parseSpecialTokens: false);

        Assert.Equal([5, 3, 4], ids);
        Assert.Equal("abc ab", tokenizer.Decode(ids));
    }

    [Fact]
    public void Encode_WithoutCompetingMerge_UsesLongerPiece()
    {
        // Without "a b", Ġ+a (now rank 1) and then Ġa+b (rank 2) apply: " ab" is the single token "Ġab".
        var tokenizer = Create(["ab c", "Ġ a", "Ġa b"]);

        Assert.Equal([7], tokenizer.Encode(" ab", addBos: false, parseSpecialTokens: false));
    }

    [Fact]
    public void Encode_Llama3WholeWordInVocabulary_TakenWithoutMerging()
    {
        // llama.cpp sets ignore_merges for Llama 3: " ab" is in the vocabulary as "Ġab", so merge order is moot.
        Assert.Equal([3, 4], Create(pre: "gpt-2").Encode(" ab", addBos: false, parseSpecialTokens: false));
        Assert.Equal([7], Create(pre: "llama-bpe").Encode(" ab", addBos: false, parseSpecialTokens: false));
    }

    [Fact]
    public void Encode_MultiByteCharacter_MergesByteCharacters()
    {
        var tokenizer = Create();

        var ids = tokenizer.Encode("é", addBos: false, parseSpecialTokens: false);

        Assert.Equal([12], ids);
        Assert.Equal("é", tokenizer.Decode(ids));
    }

    [Fact]
    public void StreamDecoder_CharacterSplitOverTwoTokens_EmitsItWhole()
    {
        var tokenizer = Create();
        var stream = tokenizer.CreateStreamDecoder();

        Assert.Equal(string.Empty, stream.Append(10));
        Assert.Equal("é", stream.Append(11));
        Assert.Equal("ab", stream.Append(4));
    }

    [Fact]
    public void Encode_SpecialTokens_ParsedWhenAskedAndControlTextDecodesToNothing()
    {
        var tokenizer = Create();

        var ids = tokenizer.Encode("<|im_start|>ab<|im_end|>", addBos: true, parseSpecialTokens: true);

        Assert.Equal([13, 9, 4, 8], ids);
        Assert.Equal("ab", tokenizer.Decode(ids));
    }

    [Fact]
    public void Encode_UserDefinedToken_AlwaysMatchedAndDecodedVerbatim()
    {
        var tokenizer = Create();

        var ids = tokenizer.Encode("ab<tool>", addBos: false, parseSpecialTokens: false);

        Assert.Equal([4, 14], ids);
        Assert.Equal("ab<tool>", tokenizer.Decode(ids));
    }

    [Fact]
    public void IsEndOfGeneration_ChatTerminators_True()
    {
        var tokenizer = Create();

        Assert.True(tokenizer.IsEndOfGeneration(8));   // <|im_end|>
        Assert.True(tokenizer.IsEndOfGeneration(13));  // EOS
        Assert.False(tokenizer.IsEndOfGeneration(9));  // <|im_start|>
        Assert.False(tokenizer.IsEndOfGeneration(4));
    }

    [Fact]
    public void AddBos_Gpt2WithoutMetadata_FalseAndLlama3True()
    {
        Assert.False(Create().AddBos);
        Assert.True(Create(pre: "llama-bpe").AddBos);
    }

    [Fact]
    public void Create_UnknownPreTokenizer_ThrowsNamingIt()
    {
        var error = Assert.Throws<UnsupportedTokenizerException>(() => Create(pre: "made-up-pre"));

        Assert.Contains("'made-up-pre'", error.Message, StringComparison.Ordinal);
        Assert.Contains("qwen2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_MissingMerges_Throws()
    {
        var spec = new TokenizerSpec("gpt2", Vocabulary, TokenTypes: Types, PreTokenizer: "gpt-2");

        Assert.Throws<UnsupportedTokenizerException>(() => TextTokenizer.Create(spec));
    }
}
