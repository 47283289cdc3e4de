using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Steward.LocalModels.Templates.Jinja;
using Steward.LocalModels.Tests.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.Templates.Jinja;

/// <summary>
/// Steward's Jinja interpreter against the reference (@huggingface/jinja run by node): the real chat templates of
/// SmolLM2, Qwen2.5, Llama 3.2 and Phi-3 over conversations with and without tools, and a set of constructs each
/// rendered both ways. Same variables in, same text out (or both refuse).
/// </summary>
public sealed class JinjaReferenceTests
{
    private static readonly (string Name, string Template, string Bos, string Eos)[] Templates =
    [
        ("SmolLM2", RealChatTemplates.SmolLm2, "<|im_start|>", "<|im_end|>"),
        ("Qwen2.5", RealChatTemplates.Qwen25, "", "<|im_end|>"),
        ("Llama-3.2", RealChatTemplates.Llama32, "<|begin_of_text|>", "<|eot_id|>"),
        ("Phi-3-mini", RealChatTemplates.Phi3Mini, "<s>", "<|endoftext|>"),
        ("Phi-3.5-mini", RealChatTemplates.Phi35Mini, "<s>", "<|endoftext|>"),
    ];

    private const string Tools = """
        [
          {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city — «quoted» and \"escaped\".",
            "parameters": {"type": "object", "properties": {
              "city": {"type": "string", "description": "City name, e.g. Zürich"},
              "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
              "days": {"type": "integer", "minimum": 1, "default": 1}},
              "required": ["city"]}}},
          {"type": "function", "function": {"name": "search", "description": "Search the web.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "number"},
              "filters": {"type": "object", "properties": {"site": {"type": ["string", "null"]}}}, "safe": {"type": "boolean"}},
              "required": ["query", "limit"], "additionalProperties": false}}}
        ]
        """;

    private const string ToolCallTurn = """
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
          "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 2}}}]}
        """;

    private static readonly (string Name, string Messages, bool Tools, bool Prompt)[] Conversations =
    [
        ("chat", """[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello! How can I help?"}, {"role": "user", "content": "Name a colour."}]""", false, true),
        ("question", """[{"role": "user", "content": "Hi there"}]""", false, true),
        ("history", """[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]""", false, false),
        ("whitespace-unicode", """[{"role": "system", "content": "  Be kind.\n"}, {"role": "user", "content": "  Tabs\tand \"quotes\" — é 你好 🙂 <b>&amp;</b>\n\n"}]""", false, true),
        ("tools", """[{"role": "system", "content": "You are a weather bot."}, {"role": "user", "content": "Weather in Paris?"}]""", true, true),
        ("tools-no-system", """[{"role": "user", "content": "Weather in Paris?"}]""", true, true),
        ("tool-round-trip", $$"""[{"role": "user", "content": "Weather in Paris?"}, {{ToolCallTurn}}, {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"}]""", true, true),
        ("parallel-calls", """
            [{"role": "user", "content": "Weather in Paris and Rome?"},
             {"role": "assistant", "content": "Checking both.", "tool_calls": [
               {"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
               {"id": "b", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
             {"role": "tool", "tool_call_id": "a", "name": "get_weather", "content": "sunny"},
             {"role": "tool", "tool_call_id": "b", "name": "get_weather", "content": "rain"},
             {"role": "assistant", "content": "Paris is sunny, Rome rainy."}]
            """, true, false),
    ];

    private static readonly (string Name, string Template, string Context)[] Constructs =
    [
        ("numbers", "{{ 1.0 }} {{ 2.5 }} {{ 1/3 }} {{ 7//2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2**10 }} {{ 1 + 2.0 }} {{ 10/4 }} {{ -3 }} {{ 0.1 + 0.2 }} {{ 1000000.0 * 1000000.0 * 1000000.0 * 1000.0 }}", "{}"),
        ("dict-loop", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}[{{ k }}]{% endfor %}", """{"d": {"b": 1, "a": [1, 2], "c": {"x": null}}}"""),
        ("namespace", "{% set ns = namespace(count=0, seen=[]) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% set ns.seen = ns.seen + [m.role] %}{% endfor %}{{ ns.count }} {{ ns.seen }} {{ ns }}", """{"messages": [{"role": "user"}, {"role": "assistant"}]}"""),
        ("scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 9 %}{% endif %}{{ x }}", "{}"),
        ("map-select", "{{ messages | map(attribute='role') | join(', ') }}|{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='content') | first }}|{{ messages | selectattr('content') | length }}", """{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": ""}]}"""),
        ("string-methods", "{{ 'a,b,,c'.split(',') }} {{ ' x  y '.split() }} {{ 'a b c'.split(' ', 1) }} {{ '  x  '.strip() }}|{{ '  x  '.lstrip() }}|{{ '  x  '.rstrip() }}| {{ 'Hello World'.lower() }} {{ 'abc'.upper() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'aXbX'.replace('X', '-') }} {{ 'abc'.length }}", "{}"),
        ("subscripts", "{{ 'abc'[::-1] }} {{ 'abc'[1:] }} {{ 'abc'[0] }} {{ 'abc'[-1] }} {{ [1,2,3][-1] }} {{ [1,2,3,4,5][1:4:2] }} {{ [1,2,3][:-1] }} {{ [1,2,3][5] }}|{{ messages[0]['role'] }} {{ messages[0].role }} {{ messages[-1].role }} {{ messages[1:] | length }}", """{"messages": [{"role": "user"}, {"role": "assistant"}]}"""),
        ("tojson", "{{ x | tojson }}\n{{ x | tojson(indent=2) }}\n{{ x | tojson(sort_keys=true) }}\n{{ x | tojson(ensure_ascii=true) }}\n{{ x | tojson(separators=(',', ':')) }}\n{{ [] | tojson(indent=2) }}{{ {} | tojson(indent=2) }}{{ none | tojson }}{{ 'a\"b\\\\c\n\t\u0001' | tojson }}", """{"x": {"z": 1, "a": [1.5, true, false, null, "é \"q\" \\ /"], "m": {"n": {}, "e": []}, "f": 2.25, "big": 12345678901234}}"""),
        ("macro", "{% macro greet(name, greeting='Hi', punct=greeting ~ '!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', greeting='Yo') }} {{ greet('C', 'Hey', '?') }}", "{}"),
        ("call-filter-blocks", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}inner {{ 1 + 1 }}{% endcall %}{% filter upper %}shout {{ 'it' }}{% endfilter %}", "{}"),
        ("whitespace-control", "  {%- if true -%}  a  {%- endif -%}  \n{# comment #}\nb\n  {% if true %}\nc\n  {% endif %}\nd {{- ' e ' -}} f\n    {{ 'g' }}\n{%- for i in [1, 2] %}\n  item {{ i }}\n{%- endfor %}\n{#- trimmed comment -#}\n  end\n", "{}"),
        ("expressions", "{{ 'x' if false }}|{{ 'y' if true else 'z' }}|{{ none }}|{{ nothing }}|{{ true }}|{{ [1, 'a', none] }}|{{ {'k': [1.5, true]} }}|{{ not 0 }}|{{ 0 or 'fallback' }}|{{ 1 and 2 }}|{{ [] or {} }}", "{}"),
        ("loops", "{% for i in range(5) if i is odd %}{{ loop.index }}:{{ i }}{{ ',' if not loop.last }}{% endfor %}|{% for x in [] %}a{% else %}empty{% endfor %}|{% for i in range(2, 8, 3) %}{{ loop.revindex }}{{ loop.first }}{{ loop.length }}{% endfor %}|{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}|{% for a in ['x', 'y'] %}{{ loop.previtem }}{{ a }}{{ loop.nextitem }};{% endfor %}", "{}"),
        ("break-continue", "{% for m in [1, 2, 3, 4] %}{% if m == 2 %}{% continue %}{% endif %}{% if m == 4 %}{% break %}{% endif %}{{ m }}{% endfor %}", "{}"),
        ("operators", "{{ 'abc' ~ 1 ~ 2.0 ~ true }} {{ 'n=' + 3 }} {{ [1,2] + [3] }} {{ 'b' in 'abc' }} {{ 'k' in {'k':1} }} {{ 2 in [1,2] }} {{ 'z' not in ['a'] }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 3 > 2 >= 2 }} {{ x in undefined_list }} {{ none == undefined_thing }}", "{}"),
        ("string-filters", "{{ \"He said \\\"hi\\\"\n\" | tojson }} {{ 'tab\there' | replace('\\t', ' ') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'hello world' | title }} {{ 'hello' | capitalize }} {{ 'Hello' | upper }} {{ 'Hello' | lower }} [{{ '  pad ' | trim }}] {{ 'line1\nline2\n\nline4' | indent(2) }} {{ 'line1\nline2' | indent(2, true) }} {{ 'abc' | length }} {{ 'abc' | join('-') }}", "{}"),
        ("list-filters", "{{ [3,1,2] | sort }} {{ ['b','A','c'] | sort }} {{ ['b','A','c'] | sort(reverse=true) }} {{ [1,2,2,3,1] | unique }} {{ [1,2,3] | reverse }} {{ [1,2,3] | first }} {{ [1,2,3] | last }} {{ [1,2,3] | length }} {{ [1, 2.5, 'a', true] | join(', ') }} {{ {'b': 1, 'a': 2} | dictsort }} {{ {'b': 1, 'a': 2} | items }} {{ [{'n': 2}, {'n': 1}] | sort(attribute='n') }} {{ d | length }}", """{"d": {"a": 1, "b": 2}}"""),
        ("conversions", "{{ x | default('d') }} {{ '' | default('e', true) }} {{ 'v' | default('f') }} {{ 5 | string }} {{ 2.0 | string }} {{ '42' | int + 1 }} {{ '3.5' | float }} {{ 'x' | int }} {{ 3.7 | int }} {{ -4 | abs }} {{ true | int }} {{ '12abc' | int }}", "{}"),
        ("set-forms", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c %}block {{ a }}{% endset %}[{{ c }}]{% set d = {'k': 'v'} %}{{ d.k }}{% set e = [1, 2] %}{{ e[1] }}", "{}"),
        ("tests", "{% if x is defined and x is mapping %}m{% endif %}{% if 'a' is string %}s{% endif %}{% if 1 is number %}n{% endif %}{% if 1 is integer %}i{% endif %}{% if 1.5 is integer %}I{% endif %}{% if none is none %}N{% endif %}{% if y is not defined %}u{% endif %}{% if [1] is iterable %}it{% endif %}{% if 'q' is iterable %}sq{% endif %}{% if x is sequence %}seq{% endif %}{% if true is boolean %}b{% endif %}{% if 3 is odd %}o{% endif %}{% if 4 is even %}e{% endif %}{% if 'abc' is lower %}lo{% endif %}{% if range is callable %}c{% endif %}", """{"x": {"a": 1}}"""),
        ("dict-access", "{{ x.missing }}|{{ x.missing.deeper }}|{{ x.get('a') }}|{{ x.get('nope', 'dflt') }}|{{ x.get('nope') }}|{{ x | length }}|{{ x.keys() }}|{{ x.values() }}|{{ x['a'] }}|{{ 'a' in x }}", """{"x": {"a": 1, "b": "two"}}"""),
        ("escapes", "{{ '\\x41\\u00e9\\n\\'' }}{{ \"\\\"\" }}{{ 'a' 'b' \"c\" }}", "{}"),
        ("raise", "before{{ raise_exception('Conversation roles must alternate') }}", "{}"),
        ("unknown-filter-refused", "{{ 'x' | wordcount }}", "{}"),
        ("none-concat-refused", "{{ 'a' + none }}", "{}"),
        ("tuple-print-refused", "{{ (1, 2) }}", "{}"),
        ("trailing-newline", "a\n", "{}"),
        ("strftime", "{{ strftime_now is defined }}", "{}"),
    ];

    public static TheoryData<string, string> ChatCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var template in Templates)
        {
            foreach (var conversation in Conversations)
            {
                data.Add(template.Name, conversation.Name);
            }
        }

        return data;
    }

    public static TheoryData<string> ConstructCases() => [.. Constructs.Select(c => c.Name)];

    private static readonly Lazy<Dictionary<string, JinjaReference.Result>> Reference = new(RenderAllWithReference);

    private static IEnumerable<(string Key, string Template, JsonNode Context)> AllCases()
    {
        foreach (var template in Templates)
        {
            foreach (var conversation in Conversations)
            {
                yield return ($"{template.Name}/{conversation.Name}", template.Template, ChatContext(template, conversation));
            }
        }

        foreach (var construct in Constructs)
        {
            yield return ($"construct/{construct.Name}", construct.Template, JinjaReference.Context(construct.Context));
        }
    }

    private static JsonObject ChatContext((string Name, string Template, string Bos, string Eos) template, (string Name, string Messages, bool Tools, bool Prompt) conversation)
    {
        var context = new JsonObject
        {
            ["messages"] = JinjaReference.Context(conversation.Messages),
            ["tools"] = conversation.Tools ? JinjaReference.Context(Tools) : null,
            ["add_generation_prompt"] = conversation.Prompt,
            ["bos_token"] = template.Bos,
            ["eos_token"] = template.Eos,
            // A fixed date so the rendering does not depend on when the two renderers read the clock.
            ["date_string"] = "26 Jul 2024",
        };
        return context;
    }

    private static Dictionary<string, JinjaReference.Result> RenderAllWithReference()
    {
        var cases = AllCases().ToList();
        var results = JinjaReference.Render([.. cases.Select(c => (c.Template, c.Context))]);
        return cases.Select((c, i) => (c.Key, Result: results[i])).ToDictionary(x => x.Key, x => x.Result);
    }

    private static (string? Output, string? Error) RenderWithSteward(string template, JsonNode context)
    {
        try
        {
            var variables = (JinjaDict)JinjaJson.FromJson(JsonSerializer.SerializeToElement(context));
            var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 5, 12, 0, 0, TimeSpan.Zero));
            return (JinjaTemplate.Parse(template).Render(variables.Entries, time), null);
        }
        catch (ChatTemplateException ex)
        {
            return (null, ex.Message);
        }
    }

    private static void AssertSameAsReference(string key, string template, JsonNode context)
    {
        var expected = Reference.Value[key];
        var (output, error) = RenderWithSteward(template, context);
        if (expected.Error is not null)
        {
            Assert.True(error is not null, $"The reference refuses {key} ({expected.Error}) but Steward rendered: {output}");
            return;
        }

        Assert.True(error is null, $"Steward refused {key}: {error}");
        Assert.Equal(expected.Output, output);
    }

    [Theory]
    [MemberData(nameof(ChatCases))]
    public void Render_RealChatTemplate_MatchesHuggingFaceJinja(string templateName, string conversationName)
    {
        var template = Templates.Single(t => t.Name == templateName);
        var conversation = Conversations.Single(c => c.Name == conversationName);

        AssertSameAsReference($"{templateName}/{conversationName}", template.Template, ChatContext(template, conversation));
    }

    [Theory]
    [MemberData(nameof(ConstructCases))]
    public void Render_Construct_MatchesHuggingFaceJinja(string name)
    {
        var construct = Constructs.Single(c => c.Name == name);

        AssertSameAsReference($"construct/{name}", construct.Template, JinjaReference.Context(construct.Context));
    }

    [Fact]
    public void Render_ToolTemplates_RenderEveryToolAndCall()
    {
        // Guards the comparison itself: the tool cases really exercise the tools branches of the templates.
        var qwen = Reference.Value["Qwen2.5/tool-round-trip"].Output!;
        var llama = Reference.Value["Llama-3.2/tool-round-trip"].Output!;

        Assert.Contains("\"name\": \"get_weather\"", qwen, StringComparison.Ordinal);
        Assert.Contains("<tool_response>\n{\"temperature\": 21.5", qwen, StringComparison.Ordinal);
        Assert.Contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 2}}", qwen, StringComparison.Ordinal);
        Assert.Contains("Environment: ipython", llama, StringComparison.Ordinal);
        Assert.Contains("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"", llama, StringComparison.Ordinal);
        Assert.NotNull(Reference.Value["Llama-3.2/parallel-calls"].Error);
    }
}
