using Steward.LocalModels.Gguf;
using Steward.LocalModels.Tests.TestSupport;
using Steward.LocalModels.Tokenization;
using Xunit;

namespace Steward.LocalModels.Tests.Tokenization;

public sealed class SentencePieceTokenizerTests
{
    private static ITextTokenizer Load(string fileName)
    {
        using var file = GgufFile.Open(TestModels.RequirePath(fileName));
        return TextTokenizer.FromGguf(file);
    }

    [Fact]
    public void Encode_Llama2HelloWorld_MatchesLlamaCpp()
    {
        var tokenizer = Load("llama-2-tiny-random.gguf");

        var ids = tokenizer.Encode("Hello world", addBos: tokenizer.AddBos, parseSpecialTokens: true);

        Assert.True(tokenizer.AddBos);
        Assert.Equal([1, 15043, 3186], ids);
        Assert.Equal("Hello world", tokenizer.Decode(ids));
        Assert.Equal(32000, tokenizer.VocabularySize);
    }

    [Fact]
    public void Encode_Stories260KOnceUponATime_MatchesLlamaCpp()
    {
        var tokenizer = Load("stories260K.gguf");

        var ids = tokenizer.Encode("Once upon a time", addBos: true, parseSpecialTokens: true);

        Assert.Equal([1, 403, 407, 261, 378], ids);
        Assert.Equal("Once upon a time", tokenizer.Decode(ids));
    }

    [Fact]
    public void Decode_Stories260KReferenceGeneration_MatchesLlamaCppText()
    {
        var tokenizer = Load("stories260K.gguf");
        int[] greedy = [432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394];

        // The reference text is what follows the prompt, so its leading space is real: use the streaming decoder.
        var stream = tokenizer.CreateStreamDecoder();
        var text = string.Concat(greedy.Select(stream.Append)) + stream.Flush();

        Assert.Equal(", there was a little girl named Lily. She loved to play outside in the park. One day, she saw", text);
    }

    [Theory]
    [InlineData("Hello 👋 world")]
    [InlineData("日本語のテキストです。")]
    [InlineData("  two leading spaces")]
    [InlineData("multiple    inner   spaces ")]
    [InlineData("line one\nline two\n\n\tindented")]
    [InlineData("Ünïcödé façade — “quotes” ½ 𝔘")]
    [InlineData("")]
    public void EncodeDecode_AwkwardText_RoundTrips(string text)
    {
        var tokenizer = Load("llama-2-tiny-random.gguf");

        var ids = tokenizer.Encode(text, addBos: true, parseSpecialTokens: false);

        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void Encode_Emoji_FallsBackToByteTokens()
    {
        var tokenizer = Load("llama-2-tiny-random.gguf");

        var ids = tokenizer.Encode("😀", addBos: false, parseSpecialTokens: false);

        // "▁" then the four UTF-8 bytes F0 9F 98 80 as <0xXX> tokens (byte tokens start at id 3).
        Assert.Equal([29871, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80], ids);
    }

    [Fact]
    public void StreamDecoder_ByteFallbackCharacter_WaitsForItsLastByte()
    {
        var tokenizer = Load("llama-2-tiny-random.gguf");
        var stream = tokenizer.CreateStreamDecoder();

        Assert.Equal(" ", stream.Append(29871));
        Assert.Equal(string.Empty, stream.Append(3 + 0xF0));
        Assert.Equal(string.Empty, stream.Append(3 + 0x9F));
        Assert.Equal(string.Empty, stream.Append(3 + 0x98));
        Assert.Equal("😀", stream.Append(3 + 0x80));
        Assert.Equal(string.Empty, stream.Flush());
    }

    [Fact]
    public void StreamDecoder_StripLeadingSpace_DropsOnlyTheFirstDummySpace()
    {
        var tokenizer = Load("llama-2-tiny-random.gguf");
        var stream = tokenizer.CreateStreamDecoder(stripLeadingSpace: true);

        Assert.Equal(string.Empty, stream.Append(1)); // BOS decodes to nothing and does not use up the strip
        Assert.Equal("Hello", stream.Append(15043));
        Assert.Equal(" world", stream.Append(3186));
    }

    [Fact]
    public void StreamDecoder_TruncatedCharacterOnFlush_EmitsReplacementCharacter()
    {
        var tokenizer = Load("llama-2-tiny-random.gguf");
        var stream = tokenizer.CreateStreamDecoder();

        Assert.Equal(string.Empty, stream.Append(3 + 0xE2));

        Assert.Equal("\uFFFD", stream.Flush());
    }

    [Fact]
    public void Encode_SpecialTokenText_ParsedOnlyWhenAsked()
    {
        var tokenizer = Load("llama-2-tiny-random.gguf");

        var parsed = tokenizer.Encode("<s>Hi</s>", addBos: false, parseSpecialTokens: true);
        var literal = tokenizer.Encode("<s>Hi</s>", addBos: false, parseSpecialTokens: false);

        Assert.Equal(1, parsed[0]);
        Assert.Equal(2, parsed[^1]);
        Assert.DoesNotContain(1, literal);
        Assert.DoesNotContain(2, literal);
        Assert.Equal("<s>Hi</s>", tokenizer.Decode(literal));
        Assert.Equal("Hi", tokenizer.Decode(parsed));
    }

    [Fact]
    public void IsEndOfGeneration_Eos_True()
    {
        var tokenizer = Load("stories260K.gguf");

        Assert.Equal(2, tokenizer.EosId);
        Assert.True(tokenizer.IsEndOfGeneration(2));
        Assert.False(tokenizer.IsEndOfGeneration(1));
        Assert.False(tokenizer.IsEndOfGeneration(403));
    }

    [Fact]
    public void CountTokens_NoBos_CountsTextTokens()
    {
        var tokenizer = Load("stories260K.gguf");

        Assert.Equal(4, tokenizer.CountTokens("Once upon a time"));
    }

    [Fact]
    public void FromGguf_Stories260K_MapsMetadata()
    {
        using var file = GgufFile.Open(TestModels.RequirePath("stories260K.gguf"));

        var spec = TokenizerSpec.FromGguf(file);

        Assert.Equal("llama", spec.Model);
        Assert.Equal(512, spec.Tokens.Count);
        Assert.Equal(1, spec.BosId);
        Assert.Equal(2, spec.EosId);
        Assert.Equal(0, spec.UnknownId);
        Assert.Null(spec.PaddingId); // stored as uint32.MaxValue, meaning "none"
        Assert.Equal(TokenType.Byte, spec.GetTokenType(3));
        Assert.Null(spec.ChatTemplate);
    }

    [Fact]
    public void Encode_AddSpacePrefixOff_NoDummySpace()
    {
        using var file = GgufFile.Open(TestModels.RequirePath("llama-2-tiny-random.gguf"));
        var spec = TokenizerSpec.FromGguf(file) with { AddSpacePrefix = false };
        var tokenizer = TextTokenizer.Create(spec);

        var ids = tokenizer.Encode("Hello world", addBos: false, parseSpecialTokens: false);

        Assert.NotEqual(15043, ids[0]); // "▁Hello" needs the dummy prefix
        Assert.Equal("Hello world", tokenizer.Decode(ids));
    }

    [Fact]
    public void Create_UnknownModelKind_ThrowsNamingIt()
    {
        var spec = new TokenizerSpec("bert", ["a"]);

        var error = Assert.Throws<UnsupportedTokenizerException>(() => TextTokenizer.Create(spec));

        Assert.Contains("'bert'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_HandBuiltVocabulary_MergesByScore()
    {
        // Pieces: ▁ab (score -1) beats ab (score -2) only if ▁a exists as an intermediate; here it does not,
        // so "ab" merges first, then "▁" + "ab" = "▁ab".
        var spec = new TokenizerSpec(
            "llama",
            ["<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁ab", "c"],
            [0f, 0f, 0f, -5f, -6f, -7f, -2f, -1f, -8f],
            [2, 3, 3, 1, 1, 1, 1, 1, 1])
        { BosId = 1, EosId = 2, UnknownId = 0 };
        var tokenizer = TextTokenizer.Create(spec);

        Assert.Equal([1, 7, 8], tokenizer.Encode("abc", addBos: true, parseSpecialTokens: false));
        // "d" has no piece and this vocabulary has no byte tokens: it becomes <unk>.
        Assert.Equal([7, 0], tokenizer.Encode("abd", addBos: false, parseSpecialTokens: false));
    }
}
