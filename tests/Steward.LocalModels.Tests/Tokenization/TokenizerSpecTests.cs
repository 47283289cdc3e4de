using Steward.LocalModels.Gguf;
using Steward.LocalModels.Templates;
using Steward.LocalModels.Tokenization;
using Xunit;

namespace Steward.LocalModels.Tests.Tokenization;

public sealed class TokenizerSpecTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tokenizer-spec").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void FromGguf_Gpt2Vocabulary_MapsMergesPreTokenizerFlagsAndTemplate()
    {
        var path = Path.Combine(_dir, "bpe.gguf");
        new GgufWriter()
            .Add("general.architecture", "qwen2")
            .Add("tokenizer.ggml.model", "gpt2")
            .Add("tokenizer.ggml.pre", "qwen2")
            .Add("tokenizer.ggml.tokens", new[] { "a", "b", "ab", "<|im_start|>", "<|im_end|>", "<|endoftext|>" })
            .Add("tokenizer.ggml.token_type", new[] { 1, 1, 1, 3, 3, 3 })
            .Add("tokenizer.ggml.merges", new[] { "a b" })
            .Add("tokenizer.ggml.bos_token_id", 5u)
            .Add("tokenizer.ggml.eos_token_id", 4u)
            .Add("tokenizer.ggml.padding_token_id", 5u)
            .Add("tokenizer.ggml.add_bos_token", false)
            .Add("tokenizer.chat_template", "{{'<|im_start|>' + message['role'] }}")
            .Write(path);
        using var file = GgufFile.Open(path);

        var spec = TokenizerSpec.FromGguf(file);
        var tokenizer = TextTokenizer.Create(spec);

        Assert.Equal("gpt2", spec.Model);
        Assert.Equal("qwen2", spec.PreTokenizer);
        Assert.Equal(["a b"], spec.Merges);
        Assert.Equal(5, spec.BosId);
        Assert.Equal(4, spec.EosId);
        Assert.Equal(5, spec.PaddingId);
        Assert.False(spec.AddBosToken);
        Assert.False(tokenizer.AddBos);
        Assert.Equal(ChatTemplateFamily.ChatML, ChatTemplate.ForModel(spec).Family);
        Assert.Equal([3, 2, 4], tokenizer.Encode("<|im_start|>ab<|im_end|>", addBos: tokenizer.AddBos, parseSpecialTokens: true));
        Assert.True(tokenizer.IsEndOfGeneration(4));
        Assert.True(tokenizer.IsEndOfGeneration(5));
    }

    [Fact]
    public void FromGguf_NoVocabulary_ThrowsNamingTheFile()
    {
        var path = Path.Combine(_dir, "empty.gguf");
        new GgufWriter().Add("general.architecture", "llama").Write(path);
        using var file = GgufFile.Open(path);

        var error = Assert.Throws<UnsupportedTokenizerException>(() => TokenizerSpec.FromGguf(file));

        Assert.Contains("empty.gguf", error.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer.ggml.tokens", error.Message, StringComparison.Ordinal);
    }
}
