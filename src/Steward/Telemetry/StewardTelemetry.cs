using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Steward.Telemetry;

/// <summary>Steward's telemetry names, in one place.</summary>
public static class StewardTelemetry
{
    /// <summary>The name of Steward's <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string SourceName = "Steward";

    internal static readonly ActivitySource ActivitySource = new(SourceName);

    internal const string RunActivityName = "agent_run";
    internal const string PresetAttribute = "steward.preset";
    internal const string SessionAttribute = "steward.session.id";
    internal const string RunAttribute = "steward.run.id";
    internal const string StatusAttribute = "steward.run.status";
}
