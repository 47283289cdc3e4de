using System.Text;
using System.Text.Json;
using Steward.LocalModels.Engine.Generation.Constraints;
using Xunit;

namespace Steward.LocalModels.Tests.Engine.Generation.Constraints;

public sealed class JsonMatcherTests
{
    private const string PersonSchema = """
        {
          "type": "object",
          "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 8},
            "age": {"type": "integer"},
            "score": {"type": "number"},
            "nickname": {"type": ["string", "null"]},
            "mood": {"enum": ["happy", "sad", "hap"]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            "address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}
          },
          "required": ["name", "age", "mood", "address"],
          "additionalProperties": false
        }
        """;

    private static JsonMatcher Matcher(string schema) => new(JsonSchemaCompiler.Compile(JsonDocument.Parse(schema).RootElement));

    private static (bool Accepted, JsonMatchState State) Feed(JsonMatcher matcher, string text)
    {
        var state = matcher.Start();
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            if (!matcher.Step(state, b))
            {
                return (false, state);
            }
        }

        return (true, state);
    }

    [Theory]
    [InlineData("""{"name":"Ann","age":31,"mood":"hap","address":{"city":"Oslo"}}""")]
    [InlineData("""{ "name": "Zoë 🙂", "age": -7, "score": 1.5e-3, "nickname": null, "mood": "happy", "tags": ["a", "b\"c\\u00e9"], "address": {"city": ""} }""")]
    [InlineData("{\n  \"name\": \"B\",\n  \"age\": 0,\n  \"nickname\": \"x\",\n  \"mood\": \"sad\",\n  \"address\": {\"city\": \"\\n\"}\n}")]
    public void Step_ValidDocument_AcceptsAndCompletes(string json)
    {
        var matcher = Matcher(PersonSchema);

        var (accepted, state) = Feed(matcher, json);

        Assert.True(accepted);
        Assert.True(JsonMatcher.IsComplete(state));
        Assert.Equal(0, matcher.MinRemaining(state));
    }

    [Theory]
    [InlineData("""{"age":31""")] // a required property skipped
    [InlineData("""{"name":"","age":1""")] // minLength 1
    [InlineData("""{"name":"123456789""")] // maxLength 8
    [InlineData("""{"name":"A","age":1.5""")] // integer
    [InlineData("""{"name":"A","age":01""")] // leading zero
    [InlineData("""{"name":"A","age":1,"mood":"angry""")] // enum
    [InlineData("""{"name":"A","age":1,"mood":"sad","extra":1""")] // additionalProperties false
    [InlineData("""{"name":"A","age":1,"mood":"sad","tags":["a","b","c"]""")] // maxItems 2
    [InlineData("""{"name":"A\q""")] // bad escape
    [InlineData("{\"name\":\"A\nB\"")] // raw control character in a string
    [InlineData("""{"name":"A","age":1,"mood":"sad","address":{"city":"x"}},""")] // nothing after the document
    public void Step_InvalidText_Rejects(string text)
    {
        Assert.False(Feed(Matcher(PersonSchema), text).Accepted);
    }

    [Fact]
    public void Step_InvalidUtf8_Rejects()
    {
        var matcher = Matcher("""{"type": "string"}""");
        var state = matcher.Start();

        Assert.True(matcher.Step(state, (byte)'"'));
        Assert.True(matcher.Step(state, 0xC3));
        Assert.False(matcher.Step(state, (byte)'a'));
    }

    [Fact]
    public void MinRemaining_PartialDocument_CountsTheShortestClosing()
    {
        var matcher = Matcher(PersonSchema);

        Assert.Equal("""{"name":"x","age":0,"mood":"hap","address":{"city":""}}""".Length, matcher.MinRemaining(matcher.Start()));
        var (_, state) = Feed(matcher, """{"name":"Ann","age":3""");
        Assert.Equal(""","mood":"hap","address":{"city":""}}""".Length, matcher.MinRemaining(state));
        (_, state) = Feed(matcher, """{"name":"Ann","age":3,"mood":"h""");
        Assert.Equal("""ap","address":{"city":""}}""".Length, matcher.MinRemaining(state));
    }

    [Fact]
    public void AnyObject_NestedFreeJson_IsAccepted()
    {
        var matcher = new JsonMatcher(JsonGrammar.AnyObject());

        var (accepted, state) = Feed(matcher, """{"a": [1, -2.5E+3, true, null, {"b": {}}, []], "c": "d"}""");

        Assert.True(accepted);
        Assert.True(JsonMatcher.IsComplete(state));
        Assert.False(Feed(matcher, "[1]").Accepted);
    }

    [Fact]
    public void Step_LongWhitespaceRun_Rejected()
    {
        var matcher = new JsonMatcher(JsonGrammar.AnyObject());

        Assert.True(Feed(matcher, "{" + new string(' ', 20)).Accepted);
        Assert.False(Feed(matcher, "{" + new string(' ', 21)).Accepted);
    }

    [Fact]
    public void Compile_RecursiveReference_Accepted()
    {
        var matcher = Matcher("""
            {"$ref": "#/$defs/node", "$defs": {"node": {"type": "object",
              "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
              "required": ["value"], "additionalProperties": false}}}
            """);

        var (accepted, state) = Feed(matcher, """{"value":1,"children":[{"value":2},{"value":3,"children":[]}]}""");

        Assert.True(accepted);
        Assert.True(JsonMatcher.IsComplete(state));
    }

    [Fact]
    public void Compile_UnsupportedKeywords_ListsEveryProblem()
    {
        var error = Assert.Throws<NotSupportedException>(() => JsonSchemaCompiler.Compile(JsonDocument.Parse("""
            {"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}, "b": {"type": "number", "multipleOf": 3},
             "c": {"anyOf": [{"type": "object"}, {"type": "object", "properties": {"z": {"type": "string"}}}]}}}
            """).RootElement));

        Assert.Contains("'pattern' at #/properties/a is not supported", error.Message, StringComparison.Ordinal);
        Assert.Contains("'multipleOf' at #/properties/b is not supported", error.Message, StringComparison.Ordinal);
        Assert.Contains("two of the same JSON type (object)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type": "integer", "minimum": 1, "maximum": 5}""")]
    [InlineData("""{"type": "integer", "minimum": -20, "exclusiveMaximum": -3}""")]
    [InlineData("""{"type": "integer", "exclusiveMinimum": 9.5, "maximum": 120}""")]
    [InlineData("""{"type": "integer", "minimum": 0.5, "maximum": 1000.5}""")]
    [InlineData("""{"type": "integer", "minimum": 0}""")]
    [InlineData("""{"type": "integer", "maximum": -100}""")]
    [InlineData("""{"type": "integer", "minimum": 37, "maximum": 37}""")]
    [InlineData("""{"type": "integer", "minimum": -1, "maximum": 1}""")]
    [InlineData("""{"type": "integer", "minimum": 150, "maximum": 999}""")]
    public void Step_IntegerWithBounds_AcceptsExactlyTheIntegersTheSchemaAllows(string schema) =>
        AssertAcceptsExactlyWhatTheSchemaAllows(schema, Enumerable.Range(-1200, 2401).Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Step_BoundedIntegerPrefixes_NeverLeadOutOfTheRange()
    {
        var matcher = Matcher("""{"type": "object", "properties": {"score": {"type": "integer", "minimum": 100, "maximum": 250}}, "required": ["score"]}""");

        Assert.False(Feed(matcher, """{"score":3""").Accepted);
        Assert.False(Feed(matcher, """{"score":-""").Accepted);
        Assert.False(Feed(matcher, """{"score":0""").Accepted);
        Assert.False(Feed(matcher, """{"score":26""").Accepted);
        Assert.False(Feed(matcher, """{"score":1000""").Accepted);
        var (accepted, state) = Feed(matcher, """{"score":1""");
        Assert.True(accepted);
        // Two more digits and the brace.
        Assert.Equal(3, matcher.MinRemaining(state));
        Assert.False(Feed(matcher, """{"score":12}""").Accepted);
        Assert.True(Feed(matcher, """{"score":125}""").Accepted);
        Assert.Equal("""{"score":100}""".Length, matcher.MinRemaining(matcher.Start()));
    }

    [Fact]
    public void Compile_Draft4BooleanExclusiveBounds_AreExclusive()
    {
        var matcher = Matcher("""{"type": "integer", "minimum": 1, "exclusiveMinimum": true, "maximum": 4, "exclusiveMaximum": true}""");

        var accepted = Enumerable.Range(-5, 15).Where(n => Feed(matcher, n.ToString(System.Globalization.CultureInfo.InvariantCulture)) is (true, var state) && matcher.IsAccepting(state));

        Assert.Equal([2, 3], accepted);
    }

    [Theory]
    [InlineData("""{"type": "integer", "minimum": 5, "maximum": 4}""", "no integer lies between the bounds at #")]
    [InlineData("""{"type": "integer", "exclusiveMinimum": 4, "exclusiveMaximum": 5}""", "no integer lies between the bounds at #")]
    [InlineData("""{"type": "integer", "minimum": "1"}""", "'minimum' at # must be a number")]
    [InlineData("""{"minimum": 1}""", "'minimum' at # needs \"type\": \"number\" or \"integer\" beside it")]
    [InlineData("""{"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 0.5}""", "no number lies between the bounds at #")]
    [InlineData("""{"type": "integer", "minimum": 1e300}""", "no finite JSON value satisfies it")]
    public void Compile_BoundsNoIntegerCanMeet_NamesTheProblem(string schema, string problem)
    {
        var error = Assert.Throws<NotSupportedException>(() => JsonSchemaCompiler.Compile(JsonDocument.Parse(schema).RootElement));

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type": "number", "minimum": 0, "maximum": 1}""")]
    [InlineData("""{"type": "number", "exclusiveMinimum": -1.5, "exclusiveMaximum": 2.25}""")]
    [InlineData("""{"type": "number", "minimum": 0.125}""")]
    [InlineData("""{"type": "number", "maximum": -0.5}""")]
    [InlineData("""{"type": "number", "minimum": 10.05, "maximum": 10.3}""")]
    [InlineData("""{"type": "number", "minimum": -0.001, "maximum": 0.001}""")]
    public void Step_NumberWithBounds_AcceptsExactlyTheNumbersTheSchemaAllows(string schema)
    {
        var texts = new List<string> { "-0", "-0.0", "10.050", "10.0499", "10.3000001", "0.0011", "-0.0009", "-1.5000000000001" };
        for (var whole = -12; whole <= 12; whole++)
        {
            var sign = whole < 0 ? "-" : "";
            var digits = Math.Abs(whole).ToString(System.Globalization.CultureInfo.InvariantCulture);
            texts.Add(sign + digits);
            texts.AddRange(Enumerable.Range(0, 100).Select(f => $"{sign}{digits}.{f:00}"));
            texts.AddRange(Enumerable.Range(0, 10).Select(f => $"{sign}{digits}.{f}"));
            texts.AddRange(new[] { "0001", "0010", "0999", "1000", "1250", "0500" }.Select(f => $"{sign}{digits}.{f}"));
        }

        AssertAcceptsExactlyWhatTheSchemaAllows(schema, texts);
    }

    /// <summary>
    /// Every text is a whole document exactly when a JSON Schema validator says it is valid; one the matcher keeps open
    /// without it being valid yet must still lead to a valid one, in no more bytes than a number has.
    /// </summary>
    private static void AssertAcceptsExactlyWhatTheSchemaAllows(string schema, IEnumerable<string> texts)
    {
        var matcher = Matcher(schema);
        var validator = Json.Schema.JsonSchema.FromText(schema);
        foreach (var text in texts)
        {
            var allowed = validator.Evaluate(JsonDocument.Parse(text).RootElement).IsValid;

            var (accepted, state) = Feed(matcher, text);

            Assert.True(allowed == (accepted && matcher.IsAccepting(state)), $"{text}: the schema {(allowed ? "allows" : "refuses")} it");
            if (allowed)
            {
                Assert.Equal(0, matcher.MinRemaining(state));
            }
            else if (accepted)
            {
                Assert.InRange(matcher.MinRemaining(state), 1, 32);
            }
        }
    }

    [Fact]
    public void Step_BoundedNumber_ClosesOnlyInsideTheRangeAndWritesNoExponent()
    {
        var matcher = Matcher("""{"type": "object", "properties": {"confidence": {"type": "number", "minimum": 0.5, "maximum": 1}}, "required": ["confidence"]}""");

        Assert.False(Feed(matcher, """{"confidence":2""").Accepted);
        Assert.False(Feed(matcher, """{"confidence":1.5""").Accepted);
        Assert.False(Feed(matcher, """{"confidence":0.4""").Accepted);
        Assert.False(Feed(matcher, """{"confidence":0}""").Accepted);
        Assert.False(Feed(matcher, """{"confidence":5e-1""").Accepted);
        Assert.True(Feed(matcher, """{"confidence":1.000}""").Accepted);
        Assert.True(Feed(matcher, """{"confidence":0.75}""").Accepted);
        var (accepted, state) = Feed(matcher, """{"confidence":0""");
        Assert.True(accepted);
        // ".5}" at the shortest.
        Assert.Equal(3, matcher.MinRemaining(state));
        Assert.Equal("""{"confidence":1}""".Length, matcher.MinRemaining(matcher.Start()));
    }
}
