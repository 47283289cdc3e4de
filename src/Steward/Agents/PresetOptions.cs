namespace Steward.Agents;

/// <summary>Where presets live. Bound from <c>Steward:Agents</c>.</summary>
public sealed class PresetOptions
{
    /// <summary>
    /// Folder of <c>*.yaml</c> presets. Default: <c>agents</c> in the current folder, else the repository's
    /// <c>agents</c> folder above the application, else the copy shipped beside the application.
    /// </summary>
    public string? Directory { get; set; }
}
