using System.Text;

namespace Steward.LocalModels.Templates.Jinja;

/// <summary>
/// Evaluates a parsed template. Statements write into one <see cref="StringBuilder"/>; expressions follow
/// @huggingface/jinja (see <see cref="JinjaOperators"/>, <see cref="JinjaFilters"/>, <see cref="JinjaMembers"/>).
/// Every failure becomes a <see cref="ChatTemplateException"/> naming the construct and its line and column.
/// </summary>
internal sealed class JinjaInterpreter(JinjaSource source)
{
    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    public string Render(IReadOnlyList<JinjaNode> body, JinjaScope scope)
    {
        ArgumentNullException.ThrowIfNull(body);
        var output = new StringBuilder();
        if (ExecuteBlock(body, scope, output) != Flow.Normal)
        {
            throw source.Error("'break' or 'continue' outside a loop", FirstLoopControl(body));
        }

        return output.ToString();
    }

    private static int FirstLoopControl(IReadOnlyList<JinjaNode> body) =>
        body.FirstOrDefault(n => n is BreakNode or ContinueNode)?.Position ?? 0;

    private Flow ExecuteBlock(IReadOnlyList<JinjaNode> body, JinjaScope scope, StringBuilder output)
    {
        foreach (var node in body)
        {
            var flow = Execute(node, scope, output);
            if (flow != Flow.Normal)
            {
                return flow;
            }
        }

        return Flow.Normal;
    }

    private Flow Execute(JinjaNode node, JinjaScope scope, StringBuilder output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputNode print:
                var value = Evaluate(print.Expression, scope);
                if (value is not (JinjaNone or JinjaUndefined))
                {
                    output.Append(Guard(print.Position, value.Render));
                }

                return Flow.Normal;
            case IfNode branch:
                return ExecuteBlock(Evaluate(branch.Test, scope).IsTruthy ? branch.Body : branch.Else, scope, output);
            case ForNode loop:
                ExecuteFor(loop, scope, output);
                return Flow.Normal;
            case SetNode set:
                ExecuteSet(set, scope);
                return Flow.Normal;
            case MacroNode macro:
                scope.Set(macro.Name, DefineMacro(macro.Name, macro.Parameters, macro.Body, scope, macro.Position));
                return Flow.Normal;
            case CallBlockNode call:
                var caller = DefineMacro("caller", call.CallerParameters, call.Body, scope, call.Position);
                output.Append(Invoke(call.Call, scope, caller).Render());
                return Flow.Normal;
            case FilterBlockNode filter:
                var block = new StringBuilder();
                ExecuteNested(filter.Body, scope, block, filter.Position);
                var arguments = EvaluateArguments(filter.Arguments, scope);
                var filtered = Guard(filter.Position, () => JinjaFilters.Apply(new JinjaString(block.ToString()), filter.Filter, arguments));
                output.Append(filtered is JinjaNone or JinjaUndefined ? string.Empty : filtered.Render());
                return Flow.Normal;
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw source.Error($"unsupported node {node.GetType().Name}", node.Position);
        }
    }

    /// <summary>Runs a body that is not a loop body: break and continue may not escape it.</summary>
    private void ExecuteNested(IReadOnlyList<JinjaNode> body, JinjaScope scope, StringBuilder output, int position)
    {
        if (ExecuteBlock(body, scope, output) != Flow.Normal)
        {
            throw source.Error("'break' or 'continue' outside a loop", position);
        }
    }

    private void ExecuteFor(ForNode loop, JinjaScope scope, StringBuilder output)
    {
        var loopScope = new JinjaScope(scope);
        var iterable = Evaluate(loop.Iterable, loopScope);
        List<JinjaValue> source1 = iterable switch
        {
            JinjaList list => list.Items,
            JinjaDict dict => [.. dict.Entries.Keys.Select(k => (JinjaValue)new JinjaString(k))],
            _ => throw source.Error($"cannot loop over {Describe(iterable)}", loop.Iterable.Position),
        };

        var items = new List<JinjaValue>(source1.Count);
        foreach (var item in source1)
        {
            if (loop.Condition is not null)
            {
                var testScope = new JinjaScope(loopScope);
                Bind(loop.Target, item, testScope, loop.Position);
                if (!Evaluate(loop.Condition, testScope).IsTruthy)
                {
                    continue;
                }
            }

            items.Add(item);
        }

        for (var i = 0; i < items.Count; i++)
        {
            var info = new JinjaDict();
            info.Entries["index"] = new JinjaInteger(i + 1);
            info.Entries["index0"] = new JinjaInteger(i);
            info.Entries["revindex"] = new JinjaInteger(items.Count - i);
            info.Entries["revindex0"] = new JinjaInteger(items.Count - i - 1);
            info.Entries["first"] = JinjaValue.From(i == 0);
            info.Entries["last"] = JinjaValue.From(i == items.Count - 1);
            info.Entries["length"] = new JinjaInteger(items.Count);
            info.Entries["previtem"] = i > 0 ? items[i - 1] : JinjaUndefined.Instance;
            info.Entries["nextitem"] = i < items.Count - 1 ? items[i + 1] : JinjaUndefined.Instance;
            loopScope.Set("loop", info);
            Bind(loop.Target, items[i], loopScope, loop.Position);
            if (ExecuteBlock(loop.Body, loopScope, output) == Flow.Break)
            {
                break;
            }
        }

        if (items.Count == 0)
        {
            ExecuteNested(loop.Else, loopScope, output, loop.Position);
        }
    }

    private void Bind(JinjaExpression target, JinjaValue value, JinjaScope scope, int position)
    {
        if (target is NameExpression name)
        {
            scope.Set(name.Name, value);
            return;
        }

        var names = ((ListExpression)target).Items;
        if (value is not JinjaList list)
        {
            throw source.Error($"cannot unpack {Describe(value)} into {names.Count} names", position);
        }

        if (list.Items.Count != names.Count)
        {
            throw source.Error($"cannot unpack {list.Items.Count} values into {names.Count} names", position);
        }

        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] is not NameExpression itemName)
            {
                throw source.Error("only names can be assigned to", names[i].Position);
            }

            scope.Set(itemName.Name, list.Items[i]);
        }
    }

    private void ExecuteSet(SetNode set, JinjaScope scope)
    {
        JinjaValue value;
        if (set.Value is not null)
        {
            value = Evaluate(set.Value, scope);
        }
        else
        {
            var block = new StringBuilder();
            ExecuteNested(set.Body, scope, block, set.Position);
            value = new JinjaString(block.ToString());
        }

        switch (set.Target)
        {
            case NameExpression or ListExpression { IsTuple: true }:
                Bind(set.Target, value, scope, set.Position);
                break;
            case MemberExpression { Key: LiteralExpression { Value: JinjaString attribute } } member:
                if (Evaluate(member.Target, scope) is not JinjaNamespace ns)
                {
                    throw source.Error("only a namespace() object's attributes can be assigned", member.Position);
                }

                ns.Entries[attribute.Value] = value;
                break;
            default:
                throw source.Error("this cannot be assigned to", set.Target.Position);
        }
    }

    private JinjaFunction DefineMacro(string name, IReadOnlyList<JinjaParameter> parameters, IReadOnlyList<JinjaNode> body, JinjaScope definedIn, int position) =>
        new(name, arguments =>
        {
            var scope = new JinjaScope(definedIn);
            var extraKeywords = new JinjaDict();
            foreach (var (key, value) in arguments.Keyword)
            {
                if (!parameters.Any(p => p.Name == key))
                {
                    extraKeywords.Entries[key] = value;
                }
            }

            var pending = new List<JinjaParameter>();
            for (var i = 0; i < parameters.Count; i++)
            {
                var parameter = parameters[i];
                JinjaValue? value = i < arguments.Positional.Count ? arguments.Positional[i]
                    : arguments.Keyword.TryGetValue(parameter.Name, out var keyword) ? keyword : null;
                if (value is null && parameter.Default is not null)
                {
                    pending.Add(parameter);
                }

                scope.Set(parameter.Name, value ?? JinjaUndefined.Instance);
            }

            scope.Set("varargs", new JinjaList([.. arguments.Positional.Skip(parameters.Count)]));
            scope.Set("kwargs", extraKeywords);
            if (arguments.Caller is { } caller)
            {
                scope.Set("caller", caller);
            }

            foreach (var parameter in pending)
            {
                scope.Set(parameter.Name, Evaluate(parameter.Default!, scope));
            }

            var output = new StringBuilder();
            ExecuteNested(body, scope, output, position);
            return new JinjaString(output.ToString());
        });

    public JinjaValue Evaluate(JinjaExpression expression, JinjaScope scope)
    {
        switch (expression)
        {
            case LiteralExpression literal:
                return literal.Value;
            case NameExpression name:
                return scope.Lookup(name.Name);
            case ListExpression list:
                return new JinjaList([.. list.Items.Select(i => Evaluate(i, scope))], list.IsTuple);
            case DictExpression dict:
                var result = new JinjaDict();
                foreach (var (keyExpression, valueExpression) in dict.Entries)
                {
                    if (Evaluate(keyExpression, scope) is not JinjaString key)
                    {
                        throw source.Error("dictionary keys must be strings", keyExpression.Position);
                    }

                    result.Entries[key.Value] = Evaluate(valueExpression, scope);
                }

                return result;
            case MemberExpression member:
                var target = Evaluate(member.Target, scope);
                var memberKey = Evaluate(member.Key, scope);
                return Guard(member.Position, () => JinjaMembers.Get(target, memberKey));
            case SliceExpression slice:
                var sliced = Evaluate(slice.Target, scope);
                var start = EvaluateOptional(slice.Start, scope);
                var stop = EvaluateOptional(slice.Stop, scope);
                var step = EvaluateOptional(slice.Step, scope);
                return Guard(slice.Position, () => JinjaMembers.Slice(sliced, start, stop, step));
            case CallExpression call:
                return Invoke(call, scope, caller: null);
            case FilterExpression filter:
                var operand = Evaluate(filter.Operand, scope);
                var arguments = filter.Arguments is null ? JinjaArguments.None : EvaluateArguments(filter.Arguments, scope);
                return Guard(filter.Position, () => JinjaFilters.Apply(operand, filter.Name, arguments));
            case TestExpression test:
                var tested = Evaluate(test.Operand, scope);
                var passed = Guard(test.Position, () => JinjaFilters.Test(test.Name, tested, null));
                return JinjaValue.From(passed != test.Negate);
            case BinaryExpression binary:
                return EvaluateBinary(binary, scope);
            case UnaryExpression unary:
                var value = Evaluate(unary.Operand, scope);
                return Guard(unary.Position, () => JinjaOperators.Unary(unary.Operator, value));
            case ConditionalExpression conditional:
                if (Evaluate(conditional.Condition, scope).IsTruthy)
                {
                    return Evaluate(conditional.Then, scope);
                }

                return conditional.Else is null ? JinjaUndefined.Instance : Evaluate(conditional.Else, scope);
            default:
                throw source.Error($"unsupported expression {expression.GetType().Name}", expression.Position);
        }
    }

    private JinjaValue EvaluateOptional(JinjaExpression? expression, JinjaScope scope) =>
        expression is null ? JinjaUndefined.Instance : Evaluate(expression, scope);

    private JinjaValue EvaluateBinary(BinaryExpression binary, JinjaScope scope)
    {
        var left = Evaluate(binary.Left, scope);
        switch (binary.Operator)
        {
            case "and":
                return left.IsTruthy ? Evaluate(binary.Right, scope) : left;
            case "or":
                return left.IsTruthy ? left : Evaluate(binary.Right, scope);
        }

        var right = Evaluate(binary.Right, scope);
        return Guard(binary.Position, () => JinjaOperators.Binary(binary.Operator, left, right));
    }

    private JinjaValue Invoke(CallExpression call, JinjaScope scope, JinjaFunction? caller)
    {
        var arguments = EvaluateArguments(call.Arguments, scope);
        arguments.Caller = caller;
        var callee = Evaluate(call.Callee, scope);
        if (callee is not JinjaFunction function)
        {
            var what = call.Callee is NameExpression name ? $"'{name.Name}'" : "this";
            throw source.Error($"{what} is {Describe(callee)}, not a function or macro", call.Position);
        }

        return Guard(call.Position, () => function.Invoke(arguments));
    }

    private JinjaArguments EvaluateArguments(IReadOnlyList<JinjaArgument> arguments, JinjaScope scope)
    {
        var positional = new List<JinjaValue>();
        var keyword = new OrderedDictionary<string, JinjaValue>(StringComparer.Ordinal);
        foreach (var argument in arguments)
        {
            var value = Evaluate(argument.Value, scope);
            switch (argument.Kind)
            {
                case JinjaArgumentKind.Positional:
                    positional.Add(value);
                    break;
                case JinjaArgumentKind.Spread:
                    positional.AddRange(value is JinjaList list ? list.Items : throw source.Error($"cannot unpack {Describe(value)} with '*'", argument.Value.Position));
                    break;
                case JinjaArgumentKind.Keyword:
                    AddKeyword(argument.Name!, value, argument.Value.Position);
                    break;
                case JinjaArgumentKind.KeywordSpread:
                    if (value is not JinjaDict dict)
                    {
                        throw source.Error($"cannot unpack {Describe(value)} with '**'", argument.Value.Position);
                    }

                    foreach (var (key, item) in dict.Entries)
                    {
                        AddKeyword(key, item, argument.Value.Position);
                    }

                    break;
            }
        }

        return new JinjaArguments(positional, keyword);

        void AddKeyword(string name, JinjaValue value, int position)
        {
            if (!keyword.TryAdd(name, value))
            {
                throw source.Error($"keyword argument '{name}' given twice", position);
            }
        }
    }

    /// <summary>Runs <paramref name="action"/>, placing a <see cref="JinjaRuntimeException"/> at <paramref name="position"/>.</summary>
    private T Guard<T>(int position, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (JinjaRuntimeException ex)
        {
            throw source.Error(ex.Message, position);
        }
        catch (JinjaRaisedException ex)
        {
            var (line, column) = source.Locate(position);
            throw new ChatTemplateException(
                $"The model's chat template refused the conversation: {ex.Message} (raise_exception at line {line}, column {column}).", line, column, raisedByTemplate: true);
        }
    }

    internal static string Describe(JinjaValue value) => value switch
    {
        JinjaUndefined => "undefined",
        JinjaNone => "none",
        _ => $"a {value.TypeName}",
    };
}
