using System.Text.Json;
using Microsoft.Extensions.AI;
using Steward.LocalModels.Tools;
using Xunit;

namespace Steward.LocalModels.Tests.Tools;

public sealed class ToolCallParserTests
{
    private static readonly string[] Tools = ["get_weather", "search"];

    /// <summary>Feeds <paramref name="text"/> in chunks of <paramref name="chunk"/> characters and collects everything.</summary>
    private static List<AIContent> Parse(string text, int chunk, bool pythonTag = false)
    {
        var parser = new ToolCallParser(Tools);
        if (pythonTag)
        {
            parser.BeginJsonCall();
        }

        var output = new List<AIContent>();
        for (var i = 0; i < text.Length; i += chunk)
        {
            output.AddRange(parser.Append(text.Substring(i, Math.Min(chunk, text.Length - i))));
        }

        output.AddRange(parser.Finish());
        return output;
    }

    private static string Text(List<AIContent> contents) => string.Concat(contents.OfType<TextContent>().Select(t => t.Text));

    private static List<FunctionCallContent> Calls(List<AIContent> contents) => [.. contents.OfType<FunctionCallContent>()];

    private static string Argument(FunctionCallContent call, string name) => ((JsonElement)call.Arguments![name]!).ToString();

    public static TheoryData<int> Chunks() => [1, 2, 3, 5, 8, 13, 1000];

    [Theory]
    [MemberData(nameof(Chunks))]
    public void Append_HermesCallAfterText_TextStreamsAndMarkupIsNotText(int chunk)
    {
        var contents = Parse("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>", chunk);

        Assert.Equal("Let me check.", Text(contents));
        var call = Assert.Single(Calls(contents));
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", Argument(call, "city"));
        Assert.Equal("2", Argument(call, "days"));
        Assert.StartsWith("call_", call.CallId, StringComparison.Ordinal);
        Assert.IsType<TextContent>(contents[0]);
    }

    [Theory]
    [MemberData(nameof(Chunks))]
    public void Append_TwoHermesCalls_BothReturnedInOrder(int chunk)
    {
        var contents = Parse("<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"a\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"search\", \"arguments\": \"{\\\"query\\\": \\\"b\\\"}\"}\n</tool_call>", chunk);

        Assert.Equal(["a", "b"], Calls(contents).Select(c => Argument(c, "query")));
        Assert.Equal(string.Empty, Text(contents));
        Assert.NotEqual(Calls(contents)[0].CallId, Calls(contents)[1].CallId);
    }

    [Theory]
    [MemberData(nameof(Chunks))]
    public void Append_Llama3JsonCall_IsACall(int chunk)
    {
        var contents = Parse("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}", chunk);

        Assert.Equal("Rome", Argument(Assert.Single(Calls(contents)), "city"));
        Assert.Equal(string.Empty, Text(contents));
    }

    [Fact]
    public void Append_Llama3ParallelCallsSeparatedBySemicolons_AllReturned()
    {
        var contents = Parse("{\"name\": \"search\", \"parameters\": {\"query\": \"x\"}}; {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", 4);

        Assert.Equal(["search", "get_weather"], Calls(contents).Select(c => c.Name));
    }

    [Fact]
    public void Append_PythonTagThenJson_IsACall()
    {
        var contents = Parse("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", 3, pythonTag: true);

        Assert.Equal("Oslo", Argument(Assert.Single(Calls(contents)), "city"));
    }

    [Theory]
    [InlineData("{\"answer\": 42}")]
    [InlineData("{\"name\": \"delete_everything\", \"parameters\": {}}")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{\"name\": \"search\"")]
    public void Append_JsonThatIsNotACallToAnOfferedTool_IsText(string answer)
    {
        var contents = Parse(answer, 2);

        Assert.Empty(Calls(contents));
        Assert.Equal(answer, Text(contents));
    }

    [Fact]
    public void Append_HermesTagWithBrokenJson_IsText()
    {
        var contents = Parse("Sure <tool_call>{\"name\": oops}</tool_call> done", 3);

        Assert.Empty(Calls(contents));
        Assert.Equal("Sure <tool_call>{\"name\": oops}</tool_call> done", Text(contents));
    }

    [Fact]
    public void Finish_TextEndingInAPartialTag_FlushesIt()
    {
        var parser = new ToolCallParser(Tools);

        var streamed = parser.Append("a < b and <tool");
        var rest = parser.Finish();

        Assert.Equal("a < b and", Text(streamed));
        Assert.Equal(" <tool", Text(rest));
    }

    [Fact]
    public void Finish_GenerationCutInsideATag_CompleteJsonStillCounts()
    {
        var contents = Parse("<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"q\"}}\n", 5);

        Assert.Equal("q", Argument(Assert.Single(Calls(contents)), "query"));
    }
}
