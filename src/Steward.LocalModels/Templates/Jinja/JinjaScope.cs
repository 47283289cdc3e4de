namespace Steward.LocalModels.Templates.Jinja;

/// <summary>
/// Variables visible at one point of a template. A for loop, a macro call and a call block open a child scope, so
/// <c>{% set %}</c> inside them does not leak out (only a namespace carries values out of a loop), while an if does not.
/// </summary>
internal sealed class JinjaScope(JinjaScope? parent = null)
{
    private readonly Dictionary<string, JinjaValue> _variables = new(StringComparer.Ordinal);

    public JinjaScope? Parent { get; } = parent;

    public JinjaValue Lookup(string name)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope._variables.TryGetValue(name, out var value))
            {
                return value;
            }
        }

        return JinjaUndefined.Instance;
    }

    public void Set(string name, JinjaValue value) => _variables[name] = value;
}
