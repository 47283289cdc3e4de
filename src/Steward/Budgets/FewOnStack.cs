namespace Steward.Budgets;

/// <summary>
/// Room on the stack for one item per budget counter a call holds on (rarely more than four: session, agent, global and
/// a key's), so that what every model call works out per counter allocates nothing. Used as a span; more need an array.
/// </summary>
[System.Runtime.CompilerServices.InlineArray(Length)]
internal struct FewOnStack<T>
{
    public const int Length = 4;

    private T _first;
}
