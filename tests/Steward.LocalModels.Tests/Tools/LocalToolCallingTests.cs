using System.ComponentModel;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Steward.LocalModels.Tests.Templates;
using Steward.LocalModels.Tests.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.Tools;

/// <summary>
/// Tool calling through <see cref="LocalChatClient"/> on scripted GGUF models (<see cref="ScriptedModel"/>): the tools
/// are rendered by the model's own template, the scripted answer is generated and decoded by the engine, and the
/// calls come back as <see cref="FunctionCallContent"/>, streaming and not, ready for FunctionInvokingChatClient.
/// </summary>
public sealed class LocalToolCallingTests : IDisposable
{
    private static readonly string[] HermesCall =
        ["Let me check.", "\n<tool_call>\n", "{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\", \"days\": 2}}", "\n</tool_call>"];

    // Qwen2.5's template, plus a marker after tool results so the scripted model can tell the second turn apart.
    private static readonly string QwenWithAnswerMarker =
        RealChatTemplates.Qwen25 + "{%- if add_generation_prompt and messages[-1].role == 'tool' %}{{- '<|answer|>' }}{%- endif %}";

    private static readonly string[] LlamaMarkers = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];

    private readonly string _dir = Directory.CreateTempSubdirectory("tool-calling").FullName;
    private readonly List<string> _weatherCalls = [];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private AIFunction Weather() => AIFunctionFactory.Create(
        ([Description("City name")] string city, int days = 1) =>
        {
            _weatherCalls.Add($"{city}/{days}");
            return $"sunny in {city}";
        },
        "get_weather",
        "Current weather in a city.");

    private ChatOptions WithTools() => new() { Tools = [Weather()], Temperature = 0, MaxOutputTokens = 32 };

    private static string Argument(FunctionCallContent call, string name) => ((JsonElement)call.Arguments![name]!).ToString();

    [Fact]
    public async Task GetResponseAsync_ScriptedHermesCall_ReturnsTextAndFunctionCall()
    {
        using var client = LocalChatClient.Load(ScriptedModel.Write(_dir, RealChatTemplates.Qwen25, [(null, HermesCall)]));

        var response = await client.GetResponseAsync("Weather in Paris?", WithTools(), TestContext.Current.CancellationToken);

        Assert.Equal("Let me check.", response.Text);
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", Argument(call, "city"));
        Assert.Equal("2", Argument(call, "days"));
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_ScriptedHermesCall_StreamsTextFirstAndNoMarkup()
    {
        using var client = LocalChatClient.Load(ScriptedModel.Write(_dir, RealChatTemplates.Qwen25, [(null, HermesCall)]));
        var updates = new List<ChatResponseUpdate>();

        await foreach (var update in client.GetStreamingResponseAsync("Weather in Paris?", WithTools(), TestContext.Current.CancellationToken))
        {
            updates.Add(update);
        }

        var textIndex = updates.FindIndex(u => u.Text.Length > 0);
        var callIndex = updates.FindIndex(u => u.Contents.OfType<FunctionCallContent>().Any());
        Assert.InRange(textIndex, 0, callIndex - 1);
        Assert.Equal("Let me check.", string.Concat(updates.Select(u => u.Text)));
        Assert.DoesNotContain(updates, u => u.Text.Contains("tool_call", StringComparison.Ordinal) || u.Text.Contains('{', StringComparison.Ordinal));
        Assert.Equal("Paris", Argument(updates[callIndex].Contents.OfType<FunctionCallContent>().Single(), "city"));
        Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
        Assert.NotNull(updates[^1].Contents.OfType<UsageContent>().SingleOrDefault());
    }

    [Fact]
    public async Task GetResponseAsync_ScriptedLlama3JsonCall_ReturnsFunctionCall()
    {
        string[] script = ["{\"name\": \"get_weather\", ", "\"parameters\": {\"city\": \"Rome\"}}"];
        using var client = LocalChatClient.Load(ScriptedModel.Write(_dir, RealChatTemplates.Llama32, [(null, script)], LlamaMarkers));

        var response = await client.GetResponseAsync("Weather in Rome?", WithTools(), TestContext.Current.CancellationToken);

        Assert.Equal(string.Empty, response.Text);
        Assert.Equal("Rome", Argument(Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>()), "city"));
    }

    [Fact]
    public async Task GetStreamingResponseAsync_ScriptedPythonTagCall_ReturnsFunctionCall()
    {
        string[] script = ["<|python_tag|>", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}"];
        using var client = LocalChatClient.Load(ScriptedModel.Write(_dir, RealChatTemplates.Llama32, [(null, script)], LlamaMarkers));
        var updates = new List<ChatResponseUpdate>();

        await foreach (var update in client.GetStreamingResponseAsync("Weather in Oslo?", WithTools(), TestContext.Current.CancellationToken))
        {
            updates.Add(update);
        }

        Assert.Equal(string.Empty, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal("Oslo", Argument(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().Single(), "city"));
    }

    [Fact]
    public async Task GetResponseAsync_NoToolsOffered_MarkupStaysText()
    {
        using var client = LocalChatClient.Load(ScriptedModel.Write(_dir, RealChatTemplates.Qwen25, [(null, HermesCall)]));

        var response = await client.GetResponseAsync("Weather in Paris?", new ChatOptions { Temperature = 0, MaxOutputTokens = 32 }, TestContext.Current.CancellationToken);

        Assert.Equal(string.Concat(HermesCall), response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task FunctionInvokingChatClient_ScriptedModel_RunsTheToolAndAnswers()
    {
        var path = ScriptedModel.Write(_dir, QwenWithAnswerMarker, [(null, HermesCall), ("<|answer|>", ["It is sunny", " in Paris."])], "<|answer|>");
        using var local = LocalChatClient.Load(path);
        using var client = new ChatClientBuilder(local).UseFunctionInvocation().Build();

        var response = await client.GetResponseAsync("Weather in Paris?", WithTools(), TestContext.Current.CancellationToken);

        Assert.Equal(["Paris/2"], _weatherCalls);
        Assert.Equal("It is sunny in Paris.", response.Messages[^1].Text);
        var result = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>());
        Assert.Contains("sunny in Paris", result.Result?.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FunctionInvokingChatClient_StreamingOnScriptedModel_RunsTheToolAndStreamsTheAnswer()
    {
        var path = ScriptedModel.Write(_dir, QwenWithAnswerMarker, [(null, HermesCall), ("<|answer|>", ["It is sunny", " in Paris."])], "<|answer|>");
        using var local = LocalChatClient.Load(path);
        using var client = new ChatClientBuilder(local).UseFunctionInvocation().Build();
        var updates = new List<ChatResponseUpdate>();

        await foreach (var update in client.GetStreamingResponseAsync("Weather in Paris?", WithTools(), TestContext.Current.CancellationToken))
        {
            updates.Add(update);
        }

        Assert.Equal(["Paris/2"], _weatherCalls);
        Assert.Equal("Let me check.It is sunny in Paris.", string.Concat(updates.Select(u => u.Text)));
        Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionResultContent>());
    }

    [Fact]
    public async Task CountPromptTokens_WithTools_CountsTheRenderedToolSchemas()
    {
        using var client = LocalChatClient.Load(ScriptedModel.Write(_dir, RealChatTemplates.Qwen25, [(null, HermesCall)]));
        ChatMessage[] messages = [new(ChatRole.User, "Weather in Paris?")];

        var without = client.CountPromptTokens(messages);
        var with = client.CountPromptTokens(messages, WithTools());

        Assert.True(with > without + 100, $"{with} tokens with tools, {without} without");
        Assert.Equal(without, client.CountPromptTokens(messages, new ChatOptions { Tools = [Weather()], ToolMode = ChatToolMode.None }));
    }
}
