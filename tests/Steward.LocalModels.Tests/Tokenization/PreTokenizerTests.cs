using Steward.LocalModels.Tokenization;
using Xunit;

namespace Steward.LocalModels.Tests.Tokenization;

public sealed class PreTokenizerTests
{
    [Fact]
    public void Split_Llama3_DigitsInThreesAndContractions()
    {
        var words = PreTokenizer.ForName("llama-bpe").Split("I'm 12345 ok");

        Assert.Equal(["I", "'m", " ", "123", "45", " ok"], words);
    }

    [Fact]
    public void Split_Llama3_UppercaseContraction()
    {
        Assert.Equal(["HELLO", "'S"], PreTokenizer.ForName("llama3").Split("HELLO'S"));
        Assert.Equal(["HELLO", "'", "S"], PreTokenizer.ForName("gpt-2").Split("HELLO'S"));
    }

    [Fact]
    public void Split_Qwen2_SingleDigits()
    {
        var words = PreTokenizer.ForName("qwen2").Split("I'm 12345 ok");

        Assert.Equal(["I", "'m", " ", "1", "2", "3", "4", "5", " ok"], words);
    }

    [Fact]
    public void Split_Qwen2_SpacesPunctuationAndNewlines()
    {
        var words = PreTokenizer.ForName("qwen2").Split("Hello,  world!\n\nBye");

        Assert.Equal(["Hello", ",", " ", " world", "!\n\n", "Bye"], words);
    }

    [Fact]
    public void Split_Gpt2_KeepsNumbersWhole()
    {
        Assert.Equal(["I", "'m", " 12345", " ok"], PreTokenizer.ForName("gpt-2").Split("I'm 12345 ok"));
    }

    [Fact]
    public void Split_SmolLm_SplitsDigitsFirstThenGpt2()
    {
        var words = PreTokenizer.ForName("smollm").Split("I'm 12345 ok");

        Assert.Equal(["I", "'m", " ", "1", "2", "3", "4", "5", " ok"], words);
    }

    [Fact]
    public void Split_SupplementaryCharacters_KeepsOffsetsRight()
    {
        var words = PreTokenizer.ForName("llama3").Split("hi 😀😀 𝔘x");

        // 😀 is a symbol; 𝔘 (U+1D518) is a letter, so it joins the following "x".
        Assert.Equal(["hi", " 😀😀", " 𝔘x"], words);
    }

    [Fact]
    public void Split_Default_AppliesAllFourExpressions()
    {
        // llama.cpp's default chain: punctuation runs, then GPT-2, then digit runs, then groups of three digits.
        Assert.Equal(["Hi", "!!", " ", "123", "4"], PreTokenizer.ForName(null).Split("Hi!! 1234"));
    }

    [Fact]
    public void ForName_Unknown_ThrowsNamingIt()
    {
        var error = Assert.Throws<UnsupportedTokenizerException>(() => PreTokenizer.ForName("nope"));

        Assert.Contains("'nope'", error.Message, StringComparison.Ordinal);
    }
}
