using Steward.Agents;

namespace Steward.Cli.Rendering;

/// <summary>
/// Says on standard error which other preset files are broken, so a typo in one file is seen the first time any agent
/// is asked, not when someone finally asks that one. The run goes on: the broken preset is not the one asked for.
/// </summary>
internal static class PresetWarnings
{
    public static void Write(PresetCatalog presets, string askedFor)
    {
        ArgumentNullException.ThrowIfNull(presets);
        foreach (var problem in presets.Problems().Where(p => !string.Equals(p.Name, askedFor, StringComparison.Ordinal)))
        {
            Console.Error.WriteLine(("warning: " + problem.Message + " (preset '" + problem.Name + "' is left out until the file is fixed)").ReplaceLineEndings(" "));
        }
    }
}
