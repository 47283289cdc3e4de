using Microsoft.Extensions.AI;
using Steward.LocalModels.Templates;
using Steward.LocalModels.Tokenization;
using Xunit;

namespace Steward.LocalModels.Tests.Templates;

public sealed class ChatTemplateTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "Hi there"),
        new(ChatRole.Assistant, "Hello! How can I help?"),
    ];

    private static readonly ChatMessage[] Question = [new(ChatRole.User, "Hi there")];

    [Fact]
    public void Render_Qwen25ThreeMessages_MatchesTemplate()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Qwen25);

        Assert.Equal(ChatTemplateFamily.ChatML, template.Family);
        Assert.False(template.IncludesBos);
        Assert.Contains("<|im_end|>", template.EndOfTurnTokens);
        Assert.Equal(
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n",
            template.Render(Conversation, addGenerationPrompt: false));
    }

    [Fact]
    public void Render_Qwen25WithoutSystem_AddsQwenDefaultSystemPrompt()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Qwen25);

        Assert.Equal(
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
            template.Render(Question, addGenerationPrompt: true));
    }

    [Fact]
    public void Render_SmolLm2WithoutSystem_AddsSmolLmDefaultSystemPrompt()
    {
        var template = ChatTemplate.Detect(JinjaSamples.SmolLm2);

        Assert.Equal(
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
            template.Render(Question, addGenerationPrompt: true));
    }

    [Fact]
    public void Render_PlainChatMlWithoutSystem_AddsNoSystemTurn()
    {
        var template = ChatTemplate.Detect(JinjaSamples.ChatMl);

        Assert.Equal("<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", template.Render(Question, addGenerationPrompt: true));
    }

    [Fact]
    public void Render_Llama30ThreeMessages_MatchesTemplate()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Llama30, "<|begin_of_text|>", "<|end_of_text|>");

        Assert.Equal(ChatTemplateFamily.Llama3, template.Family);
        Assert.True(template.IncludesBos);
        Assert.Contains("<|eot_id|>", template.EndOfTurnTokens);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>",
            template.Render(Conversation, addGenerationPrompt: false));
    }

    [Fact]
    public void Render_Llama31ThreeMessages_AddsKnowledgeDateHeader()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Llama31, "<|begin_of_text|>", "<|eot_id|>");

        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>",
            template.Render(Conversation, addGenerationPrompt: false));
    }

    [Fact]
    public void Render_Llama32WithoutSystem_UsesTodayAndEmptySystemTurn()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Llama32, "<|begin_of_text|>", "<|eot_id|>", new FixedTime(new DateTimeOffset(2026, 3, 5, 12, 0, 0, TimeSpan.Zero)));

        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 05 Mar 2026\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            template.Render(Question, addGenerationPrompt: true));
    }

    [Fact]
    public void Render_Llama2ThreeMessages_FoldsSystemIntoFirstUserTurn()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Llama2, "<s>", "</s>");

        Assert.Equal(ChatTemplateFamily.Llama2, template.Family);
        Assert.True(template.IncludesBos);
        Assert.Equal(
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! How can I help? </s>",
            template.Render(Conversation, addGenerationPrompt: false));
    }

    [Fact]
    public void Render_Llama2FollowUp_StartsNewInstBlock()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Llama2, "<s>", "</s>");
        ChatMessage[] messages = [.. Conversation, new(ChatRole.User, "Thanks")];

        Assert.Equal(
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! How can I help? </s><s>[INST] Thanks [/INST]",
            template.Render(messages, addGenerationPrompt: true));
    }

    [Fact]
    public void Render_MistralThreeMessages_PrependsSystemToFirstUserTurn()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Mistral, "<s>", "</s>");

        Assert.Equal(ChatTemplateFamily.Mistral, template.Family);
        Assert.Equal(
            "<s>[INST] You are terse.\n\nHi there [/INST]Hello! How can I help?</s>",
            template.Render(Conversation, addGenerationPrompt: false));
    }

    [Fact]
    public void Render_Phi3ThreeMessages_EndsWithEosWithoutGenerationPrompt()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Phi3, "<s>", "<|endoftext|>");

        Assert.Equal(ChatTemplateFamily.Phi3, template.Family);
        Assert.False(template.IncludesBos);
        Assert.Contains("<|end|>", template.EndOfTurnTokens);
        Assert.Equal(
            "<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\nHello! How can I help?<|end|>\n<|endoftext|>",
            template.Render(Conversation, addGenerationPrompt: false));
        Assert.Equal("<|user|>\nHi there<|end|>\n<|assistant|>\n", template.Render(Question, addGenerationPrompt: true));
    }

    [Fact]
    public void Render_ZephyrThreeMessages_EosAndNewlineAfterEachTurn()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Zephyr, "<s>", "</s>");

        Assert.Equal(ChatTemplateFamily.Zephyr, template.Family);
        Assert.False(template.IncludesBos);
        Assert.Equal(["</s>"], template.EndOfTurnTokens);
        Assert.Equal(
            "<|system|>\nYou are terse.</s>\n<|user|>\nHi there</s>\n<|assistant|>\nHello! How can I help?</s>\n",
            template.Render(Conversation, addGenerationPrompt: false));
        Assert.Equal("<|user|>\nHi there</s>\n<|assistant|>\n", template.Render(Question, addGenerationPrompt: true));
    }

    [Fact]
    public void Render_GemmaThreeMessages_FoldsSystemAndUsesModelRole()
    {
        var template = ChatTemplate.Detect(JinjaSamples.Gemma3, "<bos>", "<eos>");

        Assert.Equal(ChatTemplateFamily.Gemma, template.Family);
        Assert.True(template.IncludesBos);
        Assert.Contains("<end_of_turn>", template.EndOfTurnTokens);
        Assert.Equal(
            "<bos><start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n<start_of_turn>model\nHello! How can I help?<end_of_turn>\n",
            template.Render(Conversation, addGenerationPrompt: false));
        Assert.Equal(
            "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
            template.Render(Question, addGenerationPrompt: true));
    }

    [Fact]
    public void Render_NoTemplateThreeMessages_RoleLabelledTranscript()
    {
        var template = ChatTemplate.Detect(null);

        Assert.Equal(ChatTemplateFamily.None, template.Family);
        Assert.Equal(["\nUser:"], template.StopSequences);
        Assert.Equal(
            "System: You are terse.\nUser: Hi there\nAssistant: Hello! How can I help?\nAssistant:",
            template.Render(Conversation, addGenerationPrompt: true));
    }

    [Fact]
    public void Render_NoTemplateSingleUserMessage_IsTheTextItself()
    {
        var template = ChatTemplate.Detect("");

        Assert.Equal("Once upon a time", template.Render([new ChatMessage(ChatRole.User, "Once upon a time")], addGenerationPrompt: true));
    }

    [Fact]
    public void Detect_UnknownTemplate_FallsBackToCompletion()
    {
        var template = ChatTemplate.Detect("{% for m in messages %}### {{ m.role }}: {{ m.content }}{% endfor %}");

        Assert.Equal(ChatTemplateFamily.Unrecognized, template.Family);
        Assert.IsType<CompletionTemplate>(template);
    }

    [Fact]
    public void ForModel_SpecBosText_UsedForLlama3()
    {
        var spec = new TokenizerSpec("gpt2", ["<|begin_of_text|>", "<|eot_id|>"]) { BosId = 0, EosId = 1, ChatTemplate = JinjaSamples.Llama30 };

        var prompt = ChatTemplate.ForModel(spec).Render(Question, addGenerationPrompt: true);

        Assert.StartsWith("<|begin_of_text|><|start_header_id|>user", prompt, StringComparison.Ordinal);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
