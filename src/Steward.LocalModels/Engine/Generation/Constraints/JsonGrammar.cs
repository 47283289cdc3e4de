namespace Steward.LocalModels.Engine.Generation.Constraints;

internal enum JsonNodeKind
{
    /// <summary>An object with declared properties, written in declaration order; required ones cannot be skipped.</summary>
    Object,

    /// <summary>Any object: string keys, values of <see cref="JsonGrammarNode.Items"/>.</summary>
    FreeObject,

    Array,
    String,
    Integer,
    Number,

    /// <summary>One of a set of exact JSON texts (enum, const, true/false, null).</summary>
    Literals,

    /// <summary>One of several alternatives, told apart by their first byte.</summary>
    Union,
}

/// <summary>One node of a compiled JSON grammar (a schema, or any JSON).</summary>
internal sealed class JsonGrammarNode
{
    public required JsonNodeKind Kind { get; init; }

    /// <summary>Bytes in the shortest valid text of this node.</summary>
    public int MinLength { get; set; }

    /// <summary>Bytes this node's text may start with (whitespace aside).</summary>
    public bool[] FirstBytes { get; } = new bool[256];

    /// <summary>Object: property names as JSON string texts (quotes included), value nodes, required flags.</summary>
    public byte[][] Keys { get; init; } = [];

    public int[] Values { get; init; } = [];

    public bool[] Required { get; init; } = [];

    /// <summary>Array: the item node; free object: the value node.</summary>
    public int Items { get; init; } = -1;

    public int MinItems { get; init; }

    public int MaxItems { get; init; } = int.MaxValue;

    /// <summary>String: length bounds in characters.</summary>
    public int MinChars { get; init; }

    public int MaxChars { get; init; } = int.MaxValue;

    /// <summary>Integer or number: the range its value must lie in (<c>minimum</c> / <c>maximum</c>), if the schema bounds it.</summary>
    public NumberBounds? Bounds { get; init; }

    /// <summary>Literals: the exact texts.</summary>
    public byte[][] Texts { get; init; } = [];

    /// <summary>Union: the alternatives.</summary>
    public int[] Alternatives { get; init; } = [];

    /// <summary>
    /// Object: the fewest bytes to finish after property <c>i - 1</c> has been written (comma-separated remaining
    /// required properties and the closing brace), for i = 0..n. Filled by <see cref="JsonGrammar.Seal"/>.
    /// </summary>
    public int[] CostAfter { get; set; } = [];
}

/// <summary>A compiled grammar: nodes by index and the root. Immutable once sealed; shared by generations.</summary>
internal sealed class JsonGrammar
{
    public JsonGrammar(List<JsonGrammarNode> nodes, int root)
    {
        KeyString = Add(nodes, new JsonGrammarNode { Kind = JsonNodeKind.String });
        Nodes = nodes;
        Root = root;
        Seal();
    }

    public IReadOnlyList<JsonGrammarNode> Nodes { get; }

    public int Root { get; }

    /// <summary>A plain string node, for the keys of free objects.</summary>
    public int KeyString { get; }

    /// <summary>Any JSON object (JSON mode): the grammar of <c>ChatResponseFormat.Json</c> without a schema.</summary>
    public static JsonGrammar AnyObject()
    {
        var nodes = new List<JsonGrammarNode>();
        var any = AddAny(nodes);
        return new JsonGrammar(nodes, nodes[any].Alternatives[0]);
    }

    /// <summary>Adds the nodes of "any JSON value" and returns the union's index.</summary>
    public static int AddAny(List<JsonGrammarNode> nodes)
    {
        var union = nodes.Count;
        nodes.Add(null!); // placeholder: the union refers to nodes that refer back to it
        var obj = Add(nodes, new JsonGrammarNode { Kind = JsonNodeKind.FreeObject, Items = union });
        var array = Add(nodes, new JsonGrammarNode { Kind = JsonNodeKind.Array, Items = union });
        var text = Add(nodes, new JsonGrammarNode { Kind = JsonNodeKind.String });
        var number = Add(nodes, new JsonGrammarNode { Kind = JsonNodeKind.Number });
        var literals = Add(nodes, new JsonGrammarNode { Kind = JsonNodeKind.Literals, Texts = ["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()] });
        nodes[union] = new JsonGrammarNode { Kind = JsonNodeKind.Union, Alternatives = [obj, array, text, number, literals] };
        return union;
    }

    public static int Add(List<JsonGrammarNode> nodes, JsonGrammarNode node)
    {
        nodes.Add(node);
        return nodes.Count - 1;
    }

    /// <summary>Computes first bytes and shortest lengths (a fixed point, since grammars may be recursive).</summary>
    private void Seal()
    {
        foreach (var node in Nodes)
        {
            node.MinLength = Infinite;
        }

        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var node in Nodes)
            {
                var length = ComputeMinLength(node);
                if (length < node.MinLength)
                {
                    node.MinLength = length;
                    changed = true;
                }
            }
        }

        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var node in Nodes)
            {
                foreach (var b in ComputeFirstBytes(node))
                {
                    if (!node.FirstBytes[b])
                    {
                        node.FirstBytes[b] = true;
                        changed = true;
                    }
                }
            }
        }

        foreach (var node in Nodes.Where(n => n.Kind == JsonNodeKind.Object))
        {
            var n = node.Keys.Length;
            var after = new int[n + 1];
            after[n] = 1;
            for (var i = n - 1; i >= 0; i--)
            {
                after[i] = Saturate(after[i + 1] + (node.Required[i] ? 1L + PropertyCost(node, i) : 0));
            }

            node.CostAfter = after;
        }
    }

    /// <summary>Bytes of <c>"key":value</c> at its shortest.</summary>
    public int PropertyCost(JsonGrammarNode node, int property) => node.Keys[property].Length + 1 + Nodes[node.Values[property]].MinLength;

    /// <summary>Lengths saturate here: "no finite text yet" while the fixed point runs, or never.</summary>
    public const int Infinite = int.MaxValue / 4;

    private static int Saturate(long length) => (int)Math.Min(length, Infinite);

    private int ComputeMinLength(JsonGrammarNode node) => node.Kind switch
    {
        JsonNodeKind.Object => ObjectMinLength(node),
        JsonNodeKind.FreeObject => 2,
        JsonNodeKind.Array => node.MinItems == 0 ? 2 : Saturate(1 + ((long)node.MinItems * (Nodes[node.Items].MinLength + 1L))),
        JsonNodeKind.String => Saturate(2L + node.MinChars),
        JsonNodeKind.Integer or JsonNodeKind.Number when node.Bounds is { } bounds => bounds.ShortestText() ?? Infinite,
        JsonNodeKind.Integer or JsonNodeKind.Number => 1,
        JsonNodeKind.Literals => node.Texts.Min(t => t.Length),
        JsonNodeKind.Union => node.Alternatives.Min(a => Nodes[a].MinLength),
        _ => throw new InvalidOperationException($"Unknown node kind {node.Kind}."),
    };

    private int ObjectMinLength(JsonGrammarNode node)
    {
        var total = 2L;
        var count = 0;
        for (var i = 0; i < node.Keys.Length; i++)
        {
            if (node.Required[i])
            {
                total += node.Keys[i].Length + 1L + Nodes[node.Values[i]].MinLength + (count++ > 0 ? 1 : 0);
            }
        }

        return Saturate(total);
    }

    private IEnumerable<byte> ComputeFirstBytes(JsonGrammarNode node) => node.Kind switch
    {
        JsonNodeKind.Object or JsonNodeKind.FreeObject => [(byte)'{'],
        JsonNodeKind.Array => [(byte)'['],
        JsonNodeKind.String => [(byte)'"'],
        JsonNodeKind.Integer or JsonNodeKind.Number when node.Bounds is { } bounds => "-0123456789"u8.ToArray().Where(b => b == (byte)'-'
            ? bounds.FewestMoreBytes(negative: true, 0, 0) is not null
            : bounds.FewestMoreBytes(negative: false, b - (byte)'0', 1) is not null),
        JsonNodeKind.Integer or JsonNodeKind.Number => "-0123456789"u8.ToArray(),
        JsonNodeKind.Literals => node.Texts.Select(t => t[0]),
        JsonNodeKind.Union => node.Alternatives.SelectMany(a => Enumerable.Range(0, 256).Where(b => Nodes[a].FirstBytes[b]).Select(b => (byte)b)),
        _ => [],
    };
}
