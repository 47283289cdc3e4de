using Microsoft.Extensions.AI;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Templates;
using Steward.LocalModels.Tests.TestSupport;
using Steward.LocalModels.Tokenization;
using Xunit;

namespace Steward.LocalModels.Tests.Templates;

public sealed class ChatTemplateEncodingTests
{
    [Fact]
    public void EncodePrompt_BaseModelSingleUserMessage_MatchesLlamaCppPromptTokens()
    {
        using var file = GgufFile.Open(TestModels.RequirePath("stories260K.gguf"));
        var spec = TokenizerSpec.FromGguf(file);
        var template = ChatTemplate.ForModel(spec);

        var ids = template.EncodePrompt(TextTokenizer.Create(spec), [new ChatMessage(ChatRole.User, "Once upon a time")], addGenerationPrompt: true);

        Assert.Equal(ChatTemplateFamily.None, template.Family);
        Assert.Equal([1, 403, 407, 261, 378], ids);
    }

    [Fact]
    public void EncodePrompt_TemplateWritesBos_BosNotDoubled()
    {
        using var file = GgufFile.Open(TestModels.RequirePath("llama-2-tiny-random.gguf"));
        var spec = TokenizerSpec.FromGguf(file) with { ChatTemplate = JinjaSamples.Llama2 };
        var tokenizer = TextTokenizer.Create(spec);
        var template = ChatTemplate.ForModel(spec);

        var ids = template.EncodePrompt(tokenizer, [new ChatMessage(ChatRole.User, "Hello world")], addGenerationPrompt: true);

        Assert.Equal(1, ids[0]);
        Assert.NotEqual(1, ids[1]);
        Assert.Single(ids, id => id == 1);
        Assert.Equal([2], template.GetEndOfTurnTokenIds(tokenizer));
    }

    [Fact]
    public void EncodePrompt_ChatMlMarkers_BecomeSingleTokens()
    {
        string[] vocabulary = ["<|im_start|>", "<|im_end|>", "Ċ", "u", "s", "e", "r", "h", "i", "a", "t", "n"];
        int[] types = [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        var spec = new TokenizerSpec("gpt2", vocabulary, null, types, [], "qwen2") { EosId = 1, ChatTemplate = JinjaSamples.ChatMl };
        var tokenizer = TextTokenizer.Create(spec);
        var template = ChatTemplate.ForModel(spec);

        var ids = template.EncodePrompt(tokenizer, [new ChatMessage(ChatRole.User, "hi")], addGenerationPrompt: true);

        // <|im_start|> u s e r Ċ h i <|im_end|> Ċ <|im_start|> a s s i s t a n t Ċ
        Assert.Equal([0, 3, 4, 5, 6, 2, 7, 8, 1, 2, 0, 9, 4, 4, 8, 4, 10, 9, 11, 10, 2], ids);
        Assert.Equal([1], template.GetEndOfTurnTokenIds(tokenizer));
        Assert.True(tokenizer.IsEndOfGeneration(1));
    }
}
