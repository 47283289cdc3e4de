using System.Globalization;
using System.Text;
using System.Text.Json;
using Steward.LocalModels.Templates.Jinja;

namespace Steward.LocalModels.Engine.Generation.Constraints;

/// <summary>
/// Compiles a JSON Schema into a <see cref="JsonGrammar"/> for constrained decoding. Supported: <c>type</c> (one or
/// several), <c>properties</c> / <c>required</c> / <c>additionalProperties</c>, <c>items</c> / <c>minItems</c> /
/// <c>maxItems</c>, <c>minLength</c> / <c>maxLength</c>, <c>minimum</c> / <c>maximum</c> / <c>exclusiveMinimum</c> /
/// <c>exclusiveMaximum</c> (a bounded number is written without an exponent), <c>enum</c>, <c>const</c>,
/// <c>anyOf</c> / <c>oneOf</c> (alternatives of different JSON types), and <c>$ref</c> to another part of the same
/// document (recursion included). Annotations (title, description, default, examples, format, $schema...) are ignored.
/// Objects are written with their declared properties in declaration order and no others, a subset of what any such
/// schema accepts, so the output validates. Anything else is refused up front, all problems listed in one
/// <see cref="NotSupportedException"/>.
/// </summary>
internal sealed class JsonSchemaCompiler
{
    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "default", "examples", "format",
        "readOnly", "writeOnly", "deprecated", "contentEncoding", "contentMediaType", "nullable",
    };

    private static readonly HashSet<string> Handled = new(StringComparer.Ordinal)
    {
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength",
        "enum", "const", "anyOf", "oneOf", "$ref", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    };

    private static readonly string[] BoundKeywords = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"];

    private readonly JsonElement _root;
    private readonly List<JsonGrammarNode> _nodes = [];
    private readonly Dictionary<string, int> _refs = new(StringComparer.Ordinal);
    private readonly List<string> _problems = [];
    private int _any = -1;

    private JsonSchemaCompiler(JsonElement root) => _root = root;

    /// <exception cref="NotSupportedException">The schema uses keywords or combinations constrained decoding cannot enforce.</exception>
    public static JsonGrammar Compile(JsonElement schema)
    {
        var compiler = new JsonSchemaCompiler(schema);
        var root = compiler.Compile(schema, "#");
        if (compiler._problems.Count > 0)
        {
            throw new NotSupportedException(
                "The JSON schema cannot be enforced by the embedded engine: " + string.Join("; ", compiler._problems.Distinct()) + ".");
        }

        var grammar = new JsonGrammar(compiler._nodes, root);
        if (grammar.Nodes[root].MinLength >= JsonGrammar.Infinite)
        {
            throw new NotSupportedException("The JSON schema cannot be enforced by the embedded engine: no finite JSON value satisfies it.");
        }

        return grammar;
    }

    private int Compile(JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return Any();
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            _problems.Add($"{path} is not a schema object");
            return Any();
        }

        foreach (var property in schema.EnumerateObject())
        {
            if (!Handled.Contains(property.Name) && !Annotations.Contains(property.Name))
            {
                _problems.Add($"'{property.Name}' at {path} is not supported");
            }
        }

        if (schema.TryGetProperty("$ref", out var reference))
        {
            return Reference(reference.GetString() ?? string.Empty, path);
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            return Literals([constant], path);
        }

        if (schema.TryGetProperty("enum", out var values))
        {
            return values.ValueKind == JsonValueKind.Array && values.GetArrayLength() > 0
                ? Literals([.. values.EnumerateArray()], path)
                : Problem($"'enum' at {path} must be a non-empty array");
        }

        foreach (var combinator in new[] { "anyOf", "oneOf" })
        {
            if (schema.TryGetProperty(combinator, out var alternatives))
            {
                if (alternatives.ValueKind != JsonValueKind.Array || alternatives.GetArrayLength() == 0)
                {
                    return Problem($"'{combinator}' at {path} must be a non-empty array");
                }

                return Union([.. alternatives.EnumerateArray().Select((a, i) => Compile(a, $"{path}/{combinator}/{i}"))], path);
            }
        }

        if (!schema.TryGetProperty("type", out var type))
        {
            if (BoundKeywords.FirstOrDefault(k => schema.TryGetProperty(k, out _)) is { } bound)
            {
                // Any value would include numbers the bound does not hold for.
                return Problem($"'{bound}' at {path} needs \"type\": \"number\" or \"integer\" beside it");
            }

            // No type: whatever the structural keywords imply, else any value.
            return schema.TryGetProperty("properties", out _) ? CompileType("object", schema, path)
                : schema.TryGetProperty("items", out _) ? CompileType("array", schema, path)
                : Any();
        }

        if (type.ValueKind == JsonValueKind.String)
        {
            return CompileType(type.GetString()!, schema, path);
        }

        if (type.ValueKind == JsonValueKind.Array && type.GetArrayLength() > 0)
        {
            return Union([.. type.EnumerateArray().Select(t => CompileType(t.GetString() ?? string.Empty, schema, path))], path);
        }

        return Problem($"'type' at {path} must be a string or a non-empty array of strings");
    }

    private int CompileType(string type, JsonElement schema, string path)
    {
        switch (type)
        {
            case "object":
                return CompileObject(schema, path);
            case "array":
                var items = schema.TryGetProperty("items", out var itemSchema) ? Compile(itemSchema, path + "/items") : Any();
                var minItems = Count(schema, "minItems", path) ?? 0;
                var maxItems = Count(schema, "maxItems", path) ?? int.MaxValue;
                return maxItems < minItems
                    ? Problem($"maxItems is below minItems at {path}")
                    : JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.Array, Items = items, MinItems = minItems, MaxItems = maxItems });
            case "string":
                var minChars = Count(schema, "minLength", path) ?? 0;
                var maxChars = Count(schema, "maxLength", path) ?? int.MaxValue;
                return maxChars < minChars
                    ? Problem($"maxLength is below minLength at {path}")
                    : JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.String, MinChars = minChars, MaxChars = maxChars });
            case "integer":
                return JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.Integer, Bounds = BoundsOf(schema, path, scale: 0) });
            case "number":
                return JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.Number, Bounds = BoundsOf(schema, path, scale: NumberBounds.MaxDigits) });
            case "boolean":
                return JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.Literals, Texts = ["true"u8.ToArray(), "false"u8.ToArray()] });
            case "null":
                return JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.Literals, Texts = ["null"u8.ToArray()] });
            default:
                return Problem($"type '{type}' at {path} is not a JSON type");
        }
    }

    private int CompileObject(JsonElement schema, string path)
    {
        var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : default;
        if (!schema.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object || !properties.EnumerateObject().Any())
        {
            // No declared properties: {} when additional properties are forbidden, else any keys.
            if (additional.ValueKind == JsonValueKind.False)
            {
                return JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.Object });
            }

            var values = additional.ValueKind == JsonValueKind.Object ? Compile(additional, path + "/additionalProperties") : Any();
            return JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.FreeObject, Items = values });
        }

        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("required", out var requiredList) && requiredList.ValueKind == JsonValueKind.Array)
        {
            required.UnionWith(requiredList.EnumerateArray().Select(r => r.GetString() ?? string.Empty));
        }

        var declared = properties.EnumerateObject().ToList();
        foreach (var missing in required.Where(r => declared.All(p => p.Name != r)))
        {
            _problems.Add($"required property '{missing}' at {path} is not declared in 'properties'");
        }

        if (declared.Count > 64)
        {
            return Problem($"the object at {path} declares more than 64 properties");
        }

        var index = JsonGrammar.Add(_nodes, null!);
        var node = new JsonGrammarNode
        {
            Kind = JsonNodeKind.Object,
            Keys = [.. declared.Select(p => Encoding.UTF8.GetBytes(JinjaJson.Serialize(new JinjaString(p.Name), JinjaJsonOptions.Default)))],
            Values = [.. declared.Select(p => Compile(p.Value, $"{path}/properties/{p.Name}"))],
            Required = [.. declared.Select(p => required.Contains(p.Name))],
        };
        _nodes[index] = node;
        return index;
    }

    private int Literals(IReadOnlyList<JsonElement> values, string path)
    {
        var texts = new List<byte[]>();
        foreach (var value in values)
        {
            // The canonical text: strings as JSON.stringify writes them, numbers as written in the schema.
            var text = value.ValueKind == JsonValueKind.Number
                ? value.GetRawText()
                : JinjaJson.Serialize(JinjaJson.FromJson(value), JinjaJsonOptions.Default);
            texts.Add(Encoding.UTF8.GetBytes(text));
        }

        if (texts.Count > 64)
        {
            return Problem($"'enum' at {path} has more than 64 values");
        }

        return JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.Literals, Texts = [.. texts.DistinctBy(Convert.ToBase64String)] });
    }

    private int Union(List<int> alternatives, string path)
    {
        // Nested unions (anyOf inside type arrays, $ref to a union) are flattened.
        alternatives = [.. alternatives.SelectMany(a => _nodes[a] is { Kind: JsonNodeKind.Union } nested && nested.Alternatives.Length > 1 ? nested.Alternatives : [a])];
        if (alternatives.Count == 1)
        {
            return alternatives[0];
        }

        // Alternatives must be told apart by their first byte: all literal sets merge into one; two objects, two
        // arrays, two strings or two numbers cannot be decided byte by byte without lookahead.
        var literals = alternatives.Where(a => _nodes[a]?.Kind == JsonNodeKind.Literals).ToList();
        var others = alternatives.Except(literals).ToList();
        if (literals.Count > 1)
        {
            var merged = JsonGrammar.Add(_nodes, new JsonGrammarNode
            {
                Kind = JsonNodeKind.Literals,
                Texts = [.. literals.SelectMany(l => _nodes[l].Texts).DistinctBy(Convert.ToBase64String)],
            });
            others.Add(merged);
        }
        else
        {
            others.AddRange(literals);
        }

        var kinds = others.Select(o => _nodes[o]?.Kind switch
        {
            JsonNodeKind.Object or JsonNodeKind.FreeObject => "object",
            JsonNodeKind.Array => "array",
            JsonNodeKind.String => "string",
            JsonNodeKind.Integer or JsonNodeKind.Number => "number",
            JsonNodeKind.Union => "union",
            _ => "literal",
        }).ToList();
        var clash = kinds.GroupBy(k => k).FirstOrDefault(g => g.Count() > 1 || g.Key == "union");
        if (clash is not null)
        {
            return Problem($"alternatives at {path} include two of the same JSON type ({clash.Key}), which cannot be told apart while generating");
        }

        var literal = others.FirstOrDefault(o => _nodes[o]?.Kind == JsonNodeKind.Literals, -1);
        if (literal >= 0)
        {
            foreach (var text in _nodes[literal].Texts)
            {
                var kind = text[0] switch
                {
                    (byte)'"' => "string",
                    (byte)'{' => "object",
                    (byte)'[' => "array",
                    (byte)'-' or >= (byte)'0' and <= (byte)'9' => "number",
                    _ => null,
                };
                if (kind is not null && kinds.Contains(kind))
                {
                    return Problem($"alternatives at {path} mix a {kind} with constant {kind} values");
                }
            }
        }

        return JsonGrammar.Add(_nodes, new JsonGrammarNode { Kind = JsonNodeKind.Union, Alternatives = [.. others] });
    }

    private int Reference(string reference, string path)
    {
        if (_refs.TryGetValue(reference, out var known))
        {
            return known;
        }

        if (!reference.StartsWith('#'))
        {
            return Problem($"'$ref' '{reference}' at {path} points outside the schema");
        }

        var target = _root;
        foreach (var raw in reference[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var part = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (target.ValueKind == JsonValueKind.Object && target.TryGetProperty(part, out var next))
            {
                target = next;
            }
            else if (target.ValueKind == JsonValueKind.Array && int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < target.GetArrayLength())
            {
                target = target[i];
            }
            else
            {
                return Problem($"'$ref' '{reference}' at {path} does not resolve");
            }
        }

        // A forwarding union, filled once the target is compiled, lets recursive schemas refer to themselves.
        var forward = JsonGrammar.Add(_nodes, null!);
        _refs[reference] = forward;
        var compiled = Compile(target, reference);
        _nodes[forward] = new JsonGrammarNode { Kind = JsonNodeKind.Union, Alternatives = [compiled] };
        return forward;
    }

    /// <summary>
    /// The inclusive range of units (10^-<paramref name="scale"/>) a number's bounds allow: exclusive ones and ones finer
    /// than a unit moved inward, draft 4's boolean <c>exclusiveMinimum</c> / <c>exclusiveMaximum</c> too;
    /// <see langword="null"/> when it has none.
    /// </summary>
    private NumberBounds? BoundsOf(JsonElement schema, string path, int scale)
    {
        var minimum = Bound(schema, "minimum", path);
        var maximum = Bound(schema, "maximum", path);
        var exclusiveMinimum = Bound(schema, "exclusiveMinimum", path);
        var exclusiveMaximum = Bound(schema, "exclusiveMaximum", path);
        if (minimum is null && maximum is null && exclusiveMinimum is null && exclusiveMaximum is null)
        {
            return null;
        }

        var draft4Below = schema.TryGetProperty("exclusiveMinimum", out var below) && below.ValueKind == JsonValueKind.True;
        var draft4Above = schema.TryGetProperty("exclusiveMaximum", out var above) && above.ValueKind == JsonValueKind.True;
        var low = Int128.MinValue;
        var high = Int128.MaxValue;
        if (minimum is { } min)
        {
            low = draft4Below ? Units(min, scale, up: false) + 1 : Units(min, scale, up: true);
        }

        if (exclusiveMinimum is { } xmin)
        {
            low = Int128.Max(low, Units(xmin, scale, up: false) + 1);
        }

        if (maximum is { } max)
        {
            high = draft4Above ? Units(max, scale, up: true) - 1 : Units(max, scale, up: false);
        }

        if (exclusiveMaximum is { } xmax)
        {
            high = Int128.Min(high, Units(xmax, scale, up: true) - 1);
        }

        if (low > high)
        {
            _problems.Add(scale == 0 ? $"no integer lies between the bounds at {path}" : $"no number lies between the bounds at {path}");
        }

        return new NumberBounds(low, high, scale);
    }

    /// <summary>
    /// <paramref name="value"/> in units of 10^-<paramref name="scale"/>, rounded up or down to a whole unit. Values past
    /// what a generated number can reach (15 integer digits) are clamped just beyond it.
    /// </summary>
    private static Int128 Units(decimal value, int scale, bool up)
    {
        const decimal Reach = 1e16m;
        value = Math.Clamp(value, -Reach, Reach);
        var whole = Math.Truncate(value);
        var fraction = (value - whole) * (decimal)NumberBounds.Pow10(scale);
        var rounded = up ? Math.Ceiling(fraction) : Math.Floor(fraction);
        return ((Int128)(long)whole * NumberBounds.Pow10(scale)) + (Int128)(long)rounded;
    }

    /// <summary>A numeric bound; draft 4's boolean exclusive flags are read by the caller.</summary>
    private decimal? Bound(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var value) || value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number)
        {
            // Beyond decimal's range (1e300) no generated integer can reach the bound anyway.
            return value.TryGetDecimal(out var bound) ? bound : value.GetDouble() > 0 ? decimal.MaxValue : decimal.MinValue;
        }

        _problems.Add($"'{keyword}' at {path} must be a number");
        return null;
    }

    private static int? Count(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }

        return value.TryGetInt32(out var count) && count >= 0 ? count : throw new NotSupportedException($"'{keyword}' at {path} must be a non-negative integer.");
    }

    private int Any() => _any >= 0 ? _any : _any = JsonGrammar.AddAny(_nodes);

    private int Problem(string problem)
    {
        _problems.Add(problem);
        return Any();
    }
}
