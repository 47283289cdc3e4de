using System.Text.Json;
using Json.Schema;
using Microsoft.Extensions.AI;
using Steward.LocalModels.Engine.Generation.Constraints;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Tests.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

/// <summary>
/// Structured output on the embedded engine: JSON response formats are enforced by grammar-constrained sampling, so
/// whatever the model (here tiny story and random-weight models that know nothing of JSON), the answer parses and
/// validates against the schema, also when the output cap is tight.
/// </summary>
public sealed class StructuredOutputTests : IDisposable
{
    private const string CharacterSchema = """
        {
          "type": "object",
          "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 24},
            "age": {"type": "integer"},
            "height": {"type": "number"},
            "brave": {"type": "boolean"},
            "mood": {"type": "string", "enum": ["happy", "sad", "curious"]},
            "nickname": {"type": ["string", "null"]},
            "friends": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "home": {
              "type": "object",
              "properties": {"town": {"type": "string"}, "rooms": {"type": "integer"}},
              "required": ["town"],
              "additionalProperties": false
            }
          },
          "required": ["name", "age", "brave", "mood", "friends", "home"],
          "additionalProperties": false
        }
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("structured-output").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly JsonElement Schema = JsonDocument.Parse(CharacterSchema).RootElement;

    private static int ShortestDocument(JsonElement schema)
    {
        var matcher = new JsonMatcher(JsonSchemaCompiler.Compile(schema));
        return matcher.MinRemaining(matcher.Start());
    }

    private static void AssertValid(string json, JsonElement schema)
    {
        using var document = JsonDocument.Parse(json);
        var result = JsonSchema.FromText(schema.GetRawText()).Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, $"Not valid against the schema: {json}");
    }

    [Fact]
    public async Task GetResponseAsync_SchemaAtTemperatureOne_HundredSamplesAllParseAndValidate()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });
        var shortest = ShortestDocument(Schema);
        var outputs = new HashSet<string>(StringComparer.Ordinal);

        for (var i = 0; i < 100; i++)
        {
            // Caps from the bare minimum upwards: the tightest ones force the model to close the JSON early.
            var options = new ChatOptions
            {
                ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "character"),
                Temperature = 1,
                Seed = i,
                MaxOutputTokens = shortest + (i * 3 % 120),
            };

            var response = await client.GetResponseAsync("Once upon a time there was a girl. Describe her:", options, TestContext.Current.CancellationToken);

            AssertValid(response.Text, Schema);
            Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
            Assert.True(response.Usage!.OutputTokenCount <= options.MaxOutputTokens);
            outputs.Add(response.Text);
        }

        Assert.True(outputs.Count > 90, $"Sampling should vary the answers; {outputs.Count} distinct of 100.");
    }

    [Fact]
    public async Task GetStreamingResponseAsync_JsonFormatOnRandomLlamaVocabulary_StreamsOneValidObject()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("llama-2-tiny-random.gguf"), new LocalModelOptions { Threads = 1 });
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.Json, Temperature = 1, Seed = 7, MaxOutputTokens = 48 };
        var text = "";
        var updates = 0;

        await foreach (var update in client.GetStreamingResponseAsync("Hello world", options, TestContext.Current.CancellationToken))
        {
            text += update.Text;
            updates += update.Text.Length > 0 ? 1 : 0;
        }

        using var document = JsonDocument.Parse(text);
        Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        Assert.True(updates > 1);
    }

    [Theory]
    [InlineData("llama", false)]
    [InlineData("qwen2", true)]
    public async Task GetResponseAsync_SchemaOnTinyModels_ValidatesForBothTokenizerKinds(string architecture, bool byteLevelBpe)
    {
        var path = TinyModels.Write(_dir, architecture, GgmlType.F32, new TinyModels.Shape(Embedding: 64, FeedForward: 128, Layers: 1, ByteLevelBpe: byteLevelBpe));
        using var client = LocalChatClient.Load(path, new LocalModelOptions { Threads = 1 });

        for (var seed = 0; seed < 5; seed++)
        {
            var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema), Temperature = 1, Seed = seed, MaxOutputTokens = 160 };

            var response = await client.GetResponseAsync("the user asks", options, TestContext.Current.CancellationToken);

            AssertValid(response.Text, Schema);
        }
    }

    [Fact]
    public async Task GetResponseAsync_BoundedScoreAndConfidence_EverySampleValidatesAndStaysInRange()
    {
        // What an LLM judge asks for: the embedded engine refused 'minimum' and 'maximum', so it could not judge at all.
        var schema = JsonDocument.Parse("""
            {"type": "object", "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}, "confidence": {"type": "number", "minimum": 0, "maximum": 1},
             "reason": {"type": "string", "maxLength": 40}}, "required": ["score", "confidence", "reason"], "additionalProperties": false}
            """).RootElement;
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });
        var scores = new HashSet<int>();
        var confidences = new HashSet<double>();

        for (var seed = 0; seed < 30; seed++)
        {
            var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "verdict"), Temperature = 1.5f, Seed = seed, MaxOutputTokens = 80 };

            var response = await client.GetResponseAsync("Rate the story from 1 to 5:", options, TestContext.Current.CancellationToken);

            AssertValid(response.Text, schema);
            var verdict = JsonDocument.Parse(response.Text).RootElement;
            scores.Add(verdict.GetProperty("score").GetInt32());
            confidences.Add(verdict.GetProperty("confidence").GetDouble());
        }

        Assert.True(scores.Count > 1 && confidences.Count > 1, "Sampling should vary the values.");
    }

    [Fact]
    public async Task GetResponseAsync_CapBelowTheShortestDocument_ThrowsNamingTheMinimum()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema), MaxOutputTokens = 10 };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync("x", options, TestContext.Current.CancellationToken));

        Assert.Contains($"at least {ShortestDocument(Schema)} output tokens", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetResponseAsync_UnsupportedSchema_ThrowsBeforeGenerating()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });
        var schema = JsonDocument.Parse("""{"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]+$"}}}""").RootElement;

        var error = await Assert.ThrowsAsync<NotSupportedException>(() =>
            client.GetResponseAsync("x", new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema) }, TestContext.Current.CancellationToken));

        Assert.Contains("'pattern' at #/properties/code is not supported", error.Message, StringComparison.Ordinal);
    }
}
