namespace Steward.Tests.Telemetry;

/// <summary>
/// Tests whose assertions depend on which OpenTelemetry providers are alive in the process (sampling, process-wide
/// meters). Activity and meter listeners are global, so these run alone, after the parallel tests.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTelemetryTests
{
    public const string Name = "Telemetry, alone in the process";
}
