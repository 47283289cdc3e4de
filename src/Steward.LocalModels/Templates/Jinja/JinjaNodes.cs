namespace Steward.LocalModels.Templates.Jinja;

/// <summary>A node of a parsed template; <see cref="Position"/> is its offset in the preprocessed text.</summary>
internal abstract record JinjaNode(int Position);

internal sealed record TextNode(string Text, int Position) : JinjaNode(Position);

internal sealed record OutputNode(JinjaExpression Expression, int Position) : JinjaNode(Position);

internal sealed record IfNode(JinjaExpression Test, IReadOnlyList<JinjaNode> Body, IReadOnlyList<JinjaNode> Else, int Position) : JinjaNode(Position);

/// <summary>A for loop; Target is a name or a tuple of names, Condition the <c>{% for x in xs if cond %}</c> filter or null.</summary>
internal sealed record ForNode(JinjaExpression Target, JinjaExpression Iterable, JinjaExpression? Condition, IReadOnlyList<JinjaNode> Body, IReadOnlyList<JinjaNode> Else, int Position) : JinjaNode(Position);

/// <summary>An assignment; Value is null for a block set (<c>{% set x %}...{% endset %}</c>).</summary>
internal sealed record SetNode(JinjaExpression Target, JinjaExpression? Value, IReadOnlyList<JinjaNode> Body, int Position) : JinjaNode(Position);

internal sealed record MacroNode(string Name, IReadOnlyList<JinjaParameter> Parameters, IReadOnlyList<JinjaNode> Body, int Position) : JinjaNode(Position);

internal sealed record CallBlockNode(CallExpression Call, IReadOnlyList<JinjaParameter> CallerParameters, IReadOnlyList<JinjaNode> Body, int Position) : JinjaNode(Position);

internal sealed record FilterBlockNode(string Filter, IReadOnlyList<JinjaArgument> Arguments, IReadOnlyList<JinjaNode> Body, int Position) : JinjaNode(Position);

internal sealed record BreakNode(int Position) : JinjaNode(Position);

internal sealed record ContinueNode(int Position) : JinjaNode(Position);

internal sealed record JinjaParameter(string Name, JinjaExpression? Default);

internal enum JinjaArgumentKind
{
    Positional,
    Keyword,
    Spread,
    KeywordSpread,
}

internal sealed record JinjaArgument(JinjaArgumentKind Kind, string? Name, JinjaExpression Value);

internal abstract record JinjaExpression(int Position) : JinjaNode(Position);

internal sealed record LiteralExpression(JinjaValue Value, int Position) : JinjaExpression(Position);

internal sealed record NameExpression(string Name, int Position) : JinjaExpression(Position);

internal sealed record ListExpression(IReadOnlyList<JinjaExpression> Items, bool IsTuple, int Position) : JinjaExpression(Position);

internal sealed record DictExpression(IReadOnlyList<(JinjaExpression Key, JinjaExpression Value)> Entries, int Position) : JinjaExpression(Position);

/// <summary><c>a.b</c> (Key is a literal) or <c>a[b]</c>.</summary>
internal sealed record MemberExpression(JinjaExpression Target, JinjaExpression Key, int Position) : JinjaExpression(Position);

internal sealed record SliceExpression(JinjaExpression Target, JinjaExpression? Start, JinjaExpression? Stop, JinjaExpression? Step, int Position) : JinjaExpression(Position);

internal sealed record CallExpression(JinjaExpression Callee, IReadOnlyList<JinjaArgument> Arguments, int Position) : JinjaExpression(Position);

/// <summary>A filter; Arguments is null when the filter is written without parentheses.</summary>
internal sealed record FilterExpression(JinjaExpression Operand, string Name, IReadOnlyList<JinjaArgument>? Arguments, int Position) : JinjaExpression(Position);

internal sealed record TestExpression(JinjaExpression Operand, string Name, bool Negate, int Position) : JinjaExpression(Position);

internal sealed record BinaryExpression(string Operator, JinjaExpression Left, JinjaExpression Right, int Position) : JinjaExpression(Position);

internal sealed record UnaryExpression(string Operator, JinjaExpression Operand, int Position) : JinjaExpression(Position);

/// <summary><c>a if cond else b</c>; without else (<see cref="Else"/> null) it is undefined when cond is false.</summary>
internal sealed record ConditionalExpression(JinjaExpression Condition, JinjaExpression Then, JinjaExpression? Else, int Position) : JinjaExpression(Position);
