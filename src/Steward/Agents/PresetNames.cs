namespace Steward.Agents;

/// <summary>What a preset name may contain: it is a file name in <c>agents/</c>, a label on every page and a key in exports.</summary>
public static class PresetNames
{
    /// <summary>The longest name storage keeps.</summary>
    public const int MaxLength = 100;

    /// <summary>Lower-case letters, digits, <c>_</c> and <c>-</c>, at most <see cref="MaxLength"/> characters.</summary>
    public static bool IsValid(string name) =>
        name is { Length: > 0 and <= MaxLength } && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-');
}
