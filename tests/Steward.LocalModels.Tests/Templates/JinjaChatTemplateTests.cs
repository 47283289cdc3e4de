using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using Steward.LocalModels.Templates;
using Steward.LocalModels.Templates.Jinja;
using Steward.LocalModels.Tests.TestSupport;
using Steward.LocalModels.Tokenization;
using Xunit;

namespace Steward.LocalModels.Tests.Templates;

public sealed class JinjaChatTemplateTests
{
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 3, 5, 12, 0, 0, TimeSpan.Zero));

    [Description("Current weather in a city.")]
    private static string GetWeather([Description("City name")] string city, [Description("Forecast days")] int days = 1) => $"{city}: sunny for {days} days";

    private static readonly AIFunction Weather = AIFunctionFactory.Create(GetWeather, "get_weather");

    private static readonly ChatMessage[] ToolConversation =
    [
        new(ChatRole.System, "You are a weather bot."),
        new(ChatRole.User, "Weather in Paris?"),
        new(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris", ["days"] = 2 })]),
        new(ChatRole.Tool, [new FunctionResultContent("call_1", new { temperature = 21.5, sky = "clear" })]),
    ];

    public static TheoryData<string> RealTemplates() => ["SmolLM2", "Qwen2.5", "Llama-3.2", "Phi-3-mini", "Phi-3.5-mini"];

    private static JinjaChatTemplate Create(string name) => name switch
    {
        "SmolLM2" => JinjaChatTemplate.Create(RealChatTemplates.SmolLm2, "<|im_start|>", "<|im_end|>", Clock),
        "Qwen2.5" => JinjaChatTemplate.Create(RealChatTemplates.Qwen25, null, "<|im_end|>", Clock),
        "Llama-3.2" => JinjaChatTemplate.Create(RealChatTemplates.Llama32, "<|begin_of_text|>", "<|eot_id|>", Clock),
        "Phi-3-mini" => JinjaChatTemplate.Create(RealChatTemplates.Phi3Mini, "<s>", "<|endoftext|>", Clock),
        _ => JinjaChatTemplate.Create(RealChatTemplates.Phi35Mini, "<s>", "<|endoftext|>", Clock),
    };

    private static void AssertMatchesReference(JinjaChatTemplate template, IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, bool addGenerationPrompt)
    {
        var rendered = template.Render(messages, tools, addGenerationPrompt);

        var context = JsonNode.Parse(JinjaJson.Serialize(template.BuildContext(messages, tools, addGenerationPrompt), JinjaJsonOptions.Default))!.AsObject();
        // The reference reads the clock itself; pin the date both sides print.
        context["date_string"] = "05 Mar 2026";
        var reference = JinjaReference.Render(template.Source, context);
        Assert.Null(reference.Error);
        Assert.Equal(reference.Output, rendered);
    }

    [Theory]
    [MemberData(nameof(RealTemplates))]
    public void Render_ChatMessagesWithToolCallAndResult_MatchesHuggingFaceJinja(string name)
    {
        AssertMatchesReference(Create(name), ToolConversation, [Weather], addGenerationPrompt: true);
    }

    [Theory]
    [MemberData(nameof(RealTemplates))]
    public void Render_PlainChatMessages_MatchesHuggingFaceJinja(string name)
    {
        ChatMessage[] messages = [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hi"), new(ChatRole.Assistant, "Hello!"), new(ChatRole.User, "Bye")];

        AssertMatchesReference(Create(name), messages, [], addGenerationPrompt: true);
    }

    [Fact]
    public void Render_Qwen25WithTools_WritesTheFunctionSchemaAndTheCall()
    {
        var prompt = Create("Qwen2.5").Render(ToolConversation, [Weather], addGenerationPrompt: true);

        Assert.Contains("\"name\": \"get_weather\", \"description\": \"Current weather in a city.\"", prompt, StringComparison.Ordinal);
        Assert.Contains("\"city\": {\"description\": \"City name\", \"type\": \"string\"}", prompt, StringComparison.Ordinal);
        Assert.Contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call><|im_end|>", prompt, StringComparison.Ordinal);
        Assert.Contains("<|im_start|>user\n<tool_response>\n{\"temperature\":21.5,\"sky\":\"clear\"}\n</tool_response><|im_end|>\n<|im_start|>assistant\n", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_TemplateWithoutToolSupport_UsesTheDocumentedFallback()
    {
        var template = Create("SmolLM2");

        var prompt = template.Render(ToolConversation, [Weather], addGenerationPrompt: true);

        Assert.False(template.SupportsTools);
        Assert.StartsWith("<|im_start|>system\nYou are a weather bot.\n\n# Tools\n\nYou may call one or more functions", prompt, StringComparison.Ordinal);
        Assert.Contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"", prompt, StringComparison.Ordinal);
        Assert.Contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call><|im_end|>", prompt, StringComparison.Ordinal);
        Assert.Contains("<|im_start|>user\n<tool_response>\n{\"temperature\":21.5,\"sky\":\"clear\"}\n</tool_response><|im_end|>\n<|im_start|>assistant\n", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Llama32WithoutDateString_PrintsTodayFromTheTimeProvider()
    {
        var prompt = Create("Llama-3.2").Render([new ChatMessage(ChatRole.User, "Hi")], addGenerationPrompt: true);

        Assert.StartsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 05 Mar 2026\n\n<|eot_id|>", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_UnsupportedStatement_ThrowsNamingItAndWhere()
    {
        var template = JinjaChatTemplate.Create("{% for m in messages %}{{ m.content }}\n{% endfor %}\n  {% include 'header.jinja' %}", null, null, Clock);

        var error = Assert.Throws<ChatTemplateException>(() => template.Render([new ChatMessage(ChatRole.User, "Hi")], addGenerationPrompt: true));

        Assert.Equal("Chat template: unsupported statement '{% include %}' (line 3, column 6).", error.Message);
        Assert.Equal(3, error.Line);
        Assert.NotNull(template.ParseError);
    }

    [Fact]
    public void Render_UnknownFilter_ThrowsNamingTheFilterAndWhere()
    {
        var template = JinjaChatTemplate.Create("{% for m in messages %}\n{{ m.content | wordcount }}{% endfor %}", null, null, Clock);

        var error = Assert.Throws<ChatTemplateException>(() => template.Render([new ChatMessage(ChatRole.User, "Hi")], addGenerationPrompt: true));

        Assert.Equal("Chat template: unsupported filter 'wordcount' on a string (line 2, column 16).", error.Message);
        Assert.False(error.RaisedByTemplate);
    }

    [Fact]
    public void Render_TemplateRaisesException_ThrowsTheTemplatesMessage()
    {
        var template = JinjaChatTemplate.Create(JinjaSamples.Mistral, "<s>", "</s>", Clock);

        var error = Assert.Throws<ChatTemplateException>(() => template.Render([new ChatMessage(ChatRole.Assistant, "Hi")], addGenerationPrompt: true));

        Assert.True(error.RaisedByTemplate);
        Assert.StartsWith("The model's chat template refused the conversation: Conversation roles must alternate user/assistant/user/assistant/...", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ForModel_GgufWithTemplate_RendersTheJinjaSource()
    {
        var spec = new TokenizerSpec("gpt2", ["a", "<|im_start|>", "<|im_end|>"], TokenTypes: [1, 3, 3])
        {
            EosId = 2,
            ChatTemplate = "{% for m in messages %}[{{ m.role | upper }}] {{ m.content | trim }}{% endfor %}{% if add_generation_prompt %}{{ eos_token }}<|im_start|>{% endif %}",
        };

        var template = ChatTemplate.ForModel(spec, Clock);

        Assert.IsType<JinjaChatTemplate>(template);
        Assert.Equal("[USER] hi<|im_end|><|im_start|>", template.Render([new ChatMessage(ChatRole.User, "  hi ")], addGenerationPrompt: true));
        Assert.Contains("<|im_end|>", template.EndOfTurnTokens);
    }

    [Fact]
    public void ForModel_NoTemplateButChatMarkersInVocabulary_FallsBackToTheFamily()
    {
        var spec = new TokenizerSpec("gpt2", ["a", "<|im_start|>", "<|im_end|>"], TokenTypes: [1, 3, 3]) { EosId = 2 };

        var template = ChatTemplate.ForModel(spec, Clock);

        Assert.Equal(ChatTemplateFamily.ChatML, template.Family);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", template.Render([new ChatMessage(ChatRole.User, "hi")], addGenerationPrompt: true));
    }

    [Fact]
    public void Render_PythonStringMethodsThatTheReferenceLacks_FollowPython()
    {
        var template = JinjaTemplate.Parse("{{ '\\n\\nx\\n '.lstrip('\\n') }}|{{ 'xyz' | list }}|{{ 'abc' | trim('ac') }}");

        var output = template.Render(new Dictionary<string, JinjaValue>(), Clock);

        Assert.Equal("x\n |[\"x\", \"y\", \"z\"]|b", output);
    }

    [Fact]
    public void Strftime_LlamaFormat_WritesDayMonthYear()
    {
        Assert.Equal("05 Mar 2026 12:00 %Q %", JinjaTemplate.Strftime(new DateTimeOffset(2026, 3, 5, 12, 0, 0, TimeSpan.Zero), "%d %b %Y %H:%M %Q %%"));
    }

    [Fact]
    public void BuildContext_ToolResultObject_IsSerializedAsJsonText()
    {
        var context = Create("Qwen2.5").BuildContext(ToolConversation, [Weather], addGenerationPrompt: true);

        var json = JsonDocument.Parse(JinjaJson.Serialize(context, JinjaJsonOptions.Default)).RootElement;
        var tool = json.GetProperty("messages")[3];
        Assert.Equal("tool", tool.GetProperty("role").GetString());
        Assert.Equal("call_1", tool.GetProperty("tool_call_id").GetString());
        Assert.Equal("get_weather", tool.GetProperty("name").GetString());
        Assert.Equal("{\"temperature\":21.5,\"sky\":\"clear\"}", tool.GetProperty("content").GetString());
        Assert.IsType<JinjaNone>(Create("Qwen2.5").BuildContext([new ChatMessage(ChatRole.User, "x")], [], addGenerationPrompt: true).Entries["tools"]);
    }
}
