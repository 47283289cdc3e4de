using System.Globalization;

namespace Steward.LocalModels.Templates.Jinja;

/// <summary>
/// Recursive-descent parser for the Jinja subset chat templates use, with @huggingface/jinja's grammar and
/// precedence (filters bind tighter than tests, which bind tighter than arithmetic). Statements: if/elif/else,
/// for (with <c>if</c> filter and else), set (also block set, tuples and namespace attributes), macro, call,
/// filter, break, continue. Anything else is reported with its name and place.
/// </summary>
internal sealed class JinjaParser
{
    private static readonly HashSet<string> KnownUnsupported = new(StringComparer.Ordinal)
    {
        "include", "extends", "block", "import", "from", "raw", "with", "do", "autoescape", "trans",
    };

    private readonly JinjaSource _source;
    private readonly List<JinjaToken> _tokens;
    private int _current;

    private JinjaParser(JinjaSource source, List<JinjaToken> tokens)
    {
        _source = source;
        _tokens = tokens;
    }

    public static IReadOnlyList<JinjaNode> Parse(JinjaSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var parser = new JinjaParser(source, JinjaLexer.Tokenize(source));
        var body = new List<JinjaNode>();
        while (parser._current < parser._tokens.Count)
        {
            if (parser.ParseAny() is { } node)
            {
                body.Add(node);
            }
        }

        return body;
    }

    private JinjaToken Peek(int ahead = 0) =>
        _current + ahead < _tokens.Count ? _tokens[_current + ahead] : throw Error("the template ends early: a tag or block is not closed", EndPosition);

    private int EndPosition => _source.Text.Length;

    private bool Is(JinjaTokenKind kind) => _current < _tokens.Count && _tokens[_current].Kind == kind;

    private bool IsIdentifier(string name, int ahead = 0) =>
        _current + ahead < _tokens.Count && _tokens[_current + ahead].Kind == JinjaTokenKind.Identifier && _tokens[_current + ahead].Value == name;

    private bool IsStatement(params string[] names) =>
        Is(JinjaTokenKind.OpenStatement) && _current + 1 < _tokens.Count && _tokens[_current + 1].Kind == JinjaTokenKind.Identifier
        && names.Contains(_tokens[_current + 1].Value);

    private JinjaToken Expect(JinjaTokenKind kind, string what)
    {
        if (_current >= _tokens.Count)
        {
            throw Error($"expected {what} but the template ends", EndPosition);
        }

        var token = _tokens[_current];
        if (token.Kind != kind)
        {
            throw Error($"expected {what}, found {Describe(token)}", token.Position);
        }

        _current++;
        return token;
    }

    private void ExpectIdentifier(string name)
    {
        if (!IsIdentifier(name))
        {
            throw Error($"expected '{name}'", _current < _tokens.Count ? _tokens[_current].Position : EndPosition);
        }

        _current++;
    }

    private ChatTemplateException Error(string problem, int position) => _source.Error(problem, position);

    private static string Describe(JinjaToken token) => token.Kind switch
    {
        JinjaTokenKind.Text => "text",
        JinjaTokenKind.String => $"string '{token.Value}'",
        _ => $"'{token.Value}'",
    };

    private JinjaNode? ParseAny()
    {
        var token = Peek();
        switch (token.Kind)
        {
            case JinjaTokenKind.Comment:
                _current++;
                return null;
            case JinjaTokenKind.Text:
                _current++;
                return new TextNode(token.Value, token.Position);
            case JinjaTokenKind.OpenStatement:
                return ParseStatement();
            case JinjaTokenKind.OpenExpression:
                _current++;
                var expression = ParseExpression();
                Expect(JinjaTokenKind.CloseExpression, "'}}'");
                return new OutputNode(expression, token.Position);
            default:
                throw Error($"unexpected {Describe(token)}", token.Position);
        }
    }

    private List<JinjaNode> ParseBlockUntil(params string[] terminators)
    {
        var body = new List<JinjaNode>();
        while (!IsStatement(terminators))
        {
            if (_current >= _tokens.Count)
            {
                throw Error($"'{{% {terminators[^1]} %}}' is missing", EndPosition);
            }

            if (ParseAny() is { } node)
            {
                body.Add(node);
            }
        }

        return body;
    }

    private void ExpectEnd(string name)
    {
        Expect(JinjaTokenKind.OpenStatement, $"'{{% {name} %}}'");
        ExpectIdentifier(name);
        Expect(JinjaTokenKind.CloseStatement, "'%}'");
    }

    private JinjaNode ParseStatement()
    {
        var open = Expect(JinjaTokenKind.OpenStatement, "'{%'");
        var nameToken = Peek();
        if (nameToken.Kind != JinjaTokenKind.Identifier)
        {
            throw Error($"expected a statement name after '{{%', found {Describe(nameToken)}", nameToken.Position);
        }

        _current++;
        switch (nameToken.Value)
        {
            case "set":
                return ParseSet(open.Position);
            case "if":
            {
                var node = ParseIf(open.Position);
                ExpectEnd("endif");
                return node;
            }

            case "for":
            {
                var node = ParseFor(open.Position);
                ExpectEnd("endfor");
                return node;
            }

            case "macro":
            {
                var name = Expect(JinjaTokenKind.Identifier, "a macro name").Value;
                var parameters = ParseParameters();
                Expect(JinjaTokenKind.CloseStatement, "'%}'");
                var body = ParseBlockUntil("endmacro");
                ExpectEnd("endmacro");
                return new MacroNode(name, parameters, body, open.Position);
            }

            case "call":
            {
                var callerParameters = Is(JinjaTokenKind.OpenParen) ? ParseParameters() : [];
                var calleeToken = Expect(JinjaTokenKind.Identifier, "a macro name after 'call'");
                var arguments = ParseArguments();
                Expect(JinjaTokenKind.CloseStatement, "'%}'");
                var body = ParseBlockUntil("endcall");
                ExpectEnd("endcall");
                var call = new CallExpression(new NameExpression(calleeToken.Value, calleeToken.Position), arguments, calleeToken.Position);
                return new CallBlockNode(call, callerParameters, body, open.Position);
            }

            case "filter":
            {
                var filter = Expect(JinjaTokenKind.Identifier, "a filter name").Value;
                var arguments = Is(JinjaTokenKind.OpenParen) ? ParseArguments() : [];
                Expect(JinjaTokenKind.CloseStatement, "'%}'");
                var body = ParseBlockUntil("endfilter");
                ExpectEnd("endfilter");
                return new FilterBlockNode(filter, arguments, body, open.Position);
            }

            case "break":
                Expect(JinjaTokenKind.CloseStatement, "'%}'");
                return new BreakNode(open.Position);
            case "continue":
                Expect(JinjaTokenKind.CloseStatement, "'%}'");
                return new ContinueNode(open.Position);
            default:
                var what = KnownUnsupported.Contains(nameToken.Value) ? "unsupported statement" : "unknown statement";
                throw Error($"{what} '{{% {nameToken.Value} %}}'", nameToken.Position);
        }
    }

    private SetNode ParseSet(int position)
    {
        var target = ParseExpressionSequence(primary: false);
        if (Is(JinjaTokenKind.Equals))
        {
            _current++;
            var value = ParseExpressionSequence(primary: false);
            Expect(JinjaTokenKind.CloseStatement, "'%}'");
            return new SetNode(target, value, [], position);
        }

        Expect(JinjaTokenKind.CloseStatement, "'=' or '%}'");
        var body = ParseBlockUntil("endset");
        ExpectEnd("endset");
        return new SetNode(target, null, body, position);
    }

    private IfNode ParseIf(int position)
    {
        var test = ParseExpression();
        Expect(JinjaTokenKind.CloseStatement, "'%}'");
        var body = ParseBlockUntil("elif", "else", "endif");
        var alternate = new List<JinjaNode>();
        if (IsStatement("elif"))
        {
            var elif = Peek().Position;
            _current += 2;
            alternate.Add(ParseIf(elif));
        }
        else if (IsStatement("else"))
        {
            _current += 2;
            Expect(JinjaTokenKind.CloseStatement, "'%}'");
            alternate.AddRange(ParseBlockUntil("endif"));
        }

        return new IfNode(test, body, alternate, position);
    }

    private ForNode ParseFor(int position)
    {
        var target = ParseExpressionSequence(primary: true);
        if (target is not NameExpression && !(target is ListExpression { IsTuple: true } tuple && tuple.Items.All(i => i is NameExpression)))
        {
            throw Error("the loop variable must be a name or a tuple of names", target.Position);
        }

        ExpectIdentifier("in");
        var iterable = ParseExpression();
        JinjaExpression? condition = null;
        if (iterable is ConditionalExpression { Else: null } select)
        {
            (iterable, condition) = (select.Then, select.Condition);
        }

        Expect(JinjaTokenKind.CloseStatement, "'%}'");
        var body = ParseBlockUntil("endfor", "else");
        var alternate = new List<JinjaNode>();
        if (IsStatement("else"))
        {
            _current += 2;
            Expect(JinjaTokenKind.CloseStatement, "'%}'");
            alternate.AddRange(ParseBlockUntil("endfor"));
        }

        return new ForNode(target, iterable, condition, body, alternate, position);
    }

    private JinjaExpression ParseExpressionSequence(bool primary)
    {
        var start = Peek().Position;
        var first = primary ? ParsePrimary() : ParseExpression();
        if (!Is(JinjaTokenKind.Comma))
        {
            return first;
        }

        var items = new List<JinjaExpression> { first };
        while (Is(JinjaTokenKind.Comma))
        {
            _current++;
            items.Add(primary ? ParsePrimary() : ParseExpression());
        }

        return new ListExpression(items, IsTuple: true, start);
    }

    private JinjaExpression ParseExpression()
    {
        var value = ParseOr();
        if (IsIdentifier("if"))
        {
            var position = Peek().Position;
            _current++;
            var condition = ParseOr();
            if (IsIdentifier("else"))
            {
                _current++;
                return new ConditionalExpression(condition, value, ParseExpression(), position);
            }

            return new ConditionalExpression(condition, value, null, position);
        }

        return value;
    }

    private JinjaExpression ParseOr()
    {
        var left = ParseAnd();
        while (IsIdentifier("or"))
        {
            var position = Peek().Position;
            _current++;
            left = new BinaryExpression("or", left, ParseAnd(), position);
        }

        return left;
    }

    private JinjaExpression ParseAnd()
    {
        var left = ParseNot();
        while (IsIdentifier("and"))
        {
            var position = Peek().Position;
            _current++;
            left = new BinaryExpression("and", left, ParseNot(), position);
        }

        return left;
    }

    private JinjaExpression ParseNot()
    {
        if (IsIdentifier("not"))
        {
            var position = Peek().Position;
            _current++;
            return new UnaryExpression("not", ParseNot(), position);
        }

        return ParseComparison();
    }

    private JinjaExpression ParseComparison()
    {
        var left = ParseAdditive();
        while (true)
        {
            string op;
            var position = _current < _tokens.Count ? _tokens[_current].Position : EndPosition;
            if (IsIdentifier("not") && IsIdentifier("in", 1))
            {
                op = "not in";
                _current += 2;
            }
            else if (IsIdentifier("in"))
            {
                op = "in";
                _current++;
            }
            else if (Is(JinjaTokenKind.Comparison))
            {
                op = _tokens[_current++].Value;
            }
            else
            {
                return left;
            }

            left = new BinaryExpression(op, left, ParseAdditive(), position);
        }
    }

    private JinjaExpression ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (Is(JinjaTokenKind.Additive))
        {
            var op = _tokens[_current++];
            left = new BinaryExpression(op.Value, left, ParseMultiplicative(), op.Position);
        }

        return left;
    }

    private JinjaExpression ParseMultiplicative()
    {
        var left = ParsePower();
        while (Is(JinjaTokenKind.Multiplicative))
        {
            var op = _tokens[_current++];
            left = new BinaryExpression(op.Value, left, ParsePower(), op.Position);
        }

        return left;
    }

    private JinjaExpression ParsePower()
    {
        var left = ParseTest();
        while (Is(JinjaTokenKind.Power))
        {
            var op = _tokens[_current++];
            left = new BinaryExpression(op.Value, left, ParseTest(), op.Position);
        }

        return left;
    }

    private JinjaExpression ParseTest()
    {
        var operand = ParseFilter();
        while (IsIdentifier("is"))
        {
            var position = Peek().Position;
            _current++;
            var negate = IsIdentifier("not");
            if (negate)
            {
                _current++;
            }

            var test = Peek();
            if (test.Kind != JinjaTokenKind.Identifier)
            {
                throw Error($"expected a test name after 'is', found {Describe(test)}", test.Position);
            }

            _current++;
            if (Is(JinjaTokenKind.OpenParen))
            {
                throw Error($"tests with arguments ('is {test.Value}(...)') are not supported", test.Position);
            }

            operand = new TestExpression(operand, test.Value, negate, position);
        }

        return operand;
    }

    private JinjaExpression ParseFilter()
    {
        var operand = ParseUnarySign();
        while (Is(JinjaTokenKind.Pipe))
        {
            _current++;
            var name = Peek();
            if (name.Kind != JinjaTokenKind.Identifier)
            {
                throw Error($"expected a filter name after '|', found {Describe(name)}", name.Position);
            }

            _current++;
            var arguments = Is(JinjaTokenKind.OpenParen) ? ParseArguments() : null;
            operand = new FilterExpression(operand, name.Value, arguments, name.Position);
        }

        return operand;
    }

    private JinjaExpression ParseUnarySign()
    {
        if (_current < _tokens.Count && _tokens[_current] is { Kind: JinjaTokenKind.Unary or JinjaTokenKind.Additive, Value: "-" or "+" } sign)
        {
            _current++;
            return new UnaryExpression(sign.Value, ParseUnarySign(), sign.Position);
        }

        var expression = ParseMember(ParsePrimary());
        while (Is(JinjaTokenKind.OpenParen))
        {
            expression = ParseMember(new CallExpression(expression, ParseArguments(), expression.Position));
        }

        return expression;
    }

    private JinjaExpression ParseMember(JinjaExpression target)
    {
        while (Is(JinjaTokenKind.Dot) || Is(JinjaTokenKind.OpenBracket))
        {
            var op = _tokens[_current++];
            if (op.Kind == JinjaTokenKind.Dot)
            {
                var property = Peek();
                _current++;
                JinjaValue key = property.Kind switch
                {
                    JinjaTokenKind.Identifier => new JinjaString(property.Value),
                    JinjaTokenKind.Number when long.TryParse(property.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var index) => new JinjaInteger(index),
                    _ => throw Error($"expected a name after '.', found {Describe(property)}", property.Position),
                };
                target = new MemberExpression(target, new LiteralExpression(key, property.Position), op.Position);
                continue;
            }

            target = ParseSubscript(target, op.Position);
        }

        return target;
    }

    private JinjaExpression ParseSubscript(JinjaExpression target, int position)
    {
        var parts = new List<JinjaExpression?>();
        var isSlice = false;
        while (!Is(JinjaTokenKind.CloseBracket))
        {
            if (Is(JinjaTokenKind.Colon))
            {
                parts.Add(null);
                _current++;
                isSlice = true;
            }
            else
            {
                parts.Add(ParseExpression());
                if (Is(JinjaTokenKind.Colon))
                {
                    _current++;
                    isSlice = true;
                }
            }

            if (_current >= _tokens.Count)
            {
                throw Error("']' is missing", EndPosition);
            }
        }

        Expect(JinjaTokenKind.CloseBracket, "']'");
        if (parts.Count == 0)
        {
            throw Error("empty subscript '[]'", position);
        }

        if (!isSlice)
        {
            return new MemberExpression(target, parts[0]!, position);
        }

        if (parts.Count > 3)
        {
            throw Error("a slice takes at most three parts", position);
        }

        return new SliceExpression(target, parts[0], parts.Count > 1 ? parts[1] : null, parts.Count > 2 ? parts[2] : null, position);
    }

    private List<JinjaParameter> ParseParameters()
    {
        var parameters = new List<JinjaParameter>();
        foreach (var argument in ParseArguments())
        {
            switch (argument)
            {
                case { Kind: JinjaArgumentKind.Positional, Value: NameExpression name }:
                    parameters.Add(new JinjaParameter(name.Name, null));
                    break;
                case { Kind: JinjaArgumentKind.Keyword, Name: { } keyword }:
                    parameters.Add(new JinjaParameter(keyword, argument.Value));
                    break;
                default:
                    throw Error("a parameter must be a name or name=default", argument.Value.Position);
            }
        }

        return parameters;
    }

    private List<JinjaArgument> ParseArguments()
    {
        Expect(JinjaTokenKind.OpenParen, "'('");
        var arguments = new List<JinjaArgument>();
        while (!Is(JinjaTokenKind.CloseParen))
        {
            if (_current >= _tokens.Count)
            {
                throw Error("')' is missing", EndPosition);
            }

            if (Is(JinjaTokenKind.Power))
            {
                _current++;
                arguments.Add(new JinjaArgument(JinjaArgumentKind.KeywordSpread, null, ParseExpression()));
            }
            else if (_tokens[_current] is { Kind: JinjaTokenKind.Multiplicative, Value: "*" })
            {
                _current++;
                arguments.Add(new JinjaArgument(JinjaArgumentKind.Spread, null, ParseExpression()));
            }
            else
            {
                var value = ParseExpression();
                if (Is(JinjaTokenKind.Equals))
                {
                    _current++;
                    if (value is not NameExpression name)
                    {
                        throw Error("a keyword argument needs a name before '='", value.Position);
                    }

                    arguments.Add(new JinjaArgument(JinjaArgumentKind.Keyword, name.Name, ParseExpression()));
                }
                else
                {
                    arguments.Add(new JinjaArgument(JinjaArgumentKind.Positional, null, value));
                }
            }

            if (Is(JinjaTokenKind.Comma))
            {
                _current++;
            }
        }

        _current++;
        return arguments;
    }

    private JinjaExpression ParsePrimary()
    {
        var token = Peek();
        _current++;
        switch (token.Kind)
        {
            case JinjaTokenKind.Number:
                if (token.Value.Contains('.', StringComparison.Ordinal))
                {
                    return new LiteralExpression(new JinjaFloat(double.Parse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture)), token.Position);
                }

                return long.TryParse(token.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer)
                    ? new LiteralExpression(new JinjaInteger(integer), token.Position)
                    : throw Error($"integer literal {token.Value} is too large", token.Position);
            case JinjaTokenKind.String:
            {
                var value = token.Value;
                while (Is(JinjaTokenKind.String))
                {
                    value += _tokens[_current++].Value;
                }

                return new LiteralExpression(new JinjaString(value), token.Position);
            }

            case JinjaTokenKind.Identifier:
                return new NameExpression(token.Value, token.Position);
            case JinjaTokenKind.OpenParen:
            {
                var expression = ParseExpressionSequence(primary: false);
                Expect(JinjaTokenKind.CloseParen, "')'");
                return expression;
            }

            case JinjaTokenKind.OpenBracket:
            {
                var items = new List<JinjaExpression>();
                while (!Is(JinjaTokenKind.CloseBracket))
                {
                    items.Add(ParseExpression());
                    if (Is(JinjaTokenKind.Comma))
                    {
                        _current++;
                    }
                    else if (!Is(JinjaTokenKind.CloseBracket))
                    {
                        throw Error("expected ',' or ']' in a list", Peek().Position);
                    }
                }

                _current++;
                return new ListExpression(items, IsTuple: false, token.Position);
            }

            case JinjaTokenKind.OpenBrace:
            {
                var entries = new List<(JinjaExpression, JinjaExpression)>();
                while (!Is(JinjaTokenKind.CloseBrace))
                {
                    var key = ParseExpression();
                    Expect(JinjaTokenKind.Colon, "':' between a key and its value");
                    entries.Add((key, ParseExpression()));
                    if (Is(JinjaTokenKind.Comma))
                    {
                        _current++;
                    }
                    else if (!Is(JinjaTokenKind.CloseBrace))
                    {
                        throw Error("expected ',' or '}' in a dictionary", Peek().Position);
                    }
                }

                _current++;
                return new DictExpression(entries, token.Position);
            }

            default:
                throw Error($"unexpected {Describe(token)}", token.Position);
        }
    }
}
