namespace Steward.Agents;

/// <summary>
/// A preset file could not be used. The message names the file, the line and the field, and says how to fix it.
/// </summary>
public sealed class PresetLoadException : Exception
{
    public PresetLoadException(string message) : base(message) { }

    public PresetLoadException(string message, Exception innerException) : base(message, innerException) { }

    public PresetLoadException() { }

    /// <summary>The preset file at fault, when one file is.</summary>
    public string? FilePath { get; init; }

    /// <summary>1-based line in <see cref="FilePath"/>, when known (the first problem's, when there are several).</summary>
    public int? Line { get; init; }

    /// <summary>Every problem found in <see cref="FilePath"/>, in the order of the file; empty when the message holds the only one.</summary>
    public IReadOnlyList<PresetFieldProblem> Problems { get; init; } = [];
}

/// <summary>One problem of a preset file: the 1-based line of the field it is about, and what is wrong there.</summary>
public sealed record PresetFieldProblem(int Line, string Problem);

/// <summary>No preset of that name exists.</summary>
public sealed class PresetNotFoundException : Exception
{
    public PresetNotFoundException(string name, IEnumerable<string> known)
        : base($"No agent preset named '{name}'. Known presets: {string.Join(", ", known)}. Add agents/{name}.yaml to create it.")
    {
        PresetName = name;
    }

    public PresetNotFoundException() { }

    public PresetNotFoundException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>The name that was asked for.</summary>
    public string PresetName { get; } = "";
}
