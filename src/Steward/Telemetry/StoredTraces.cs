namespace Steward.Telemetry;

/// <summary>
/// The spans in Steward's embedded trace store, as the hosts read them: one run's waterfall, or an OTLP-JSON export.
/// Registered by <c>AddSteward</c>; thread-safe.
/// </summary>
public sealed class StoredTraces
{
    private readonly TraceStore _store;

    internal StoredTraces(TraceStore store) => _store = store;

    /// <summary>Waits until spans already finished are written; a short-lived process calls it before it exits.</summary>
    public Task FlushAsync(CancellationToken cancellationToken) => _store.FlushAsync(cancellationToken);

    /// <summary>
    /// The run's spans as a tree, each with its depth and offset from the run's start. Spans already finished but not
    /// yet written are written first, so a read right after a run sees them.
    /// </summary>
    /// <exception cref="TraceNotFoundException">The run is unknown or has no stored spans.</exception>
    public async Task<RunTrace> GetRunTraceAsync(Guid runId, CancellationToken cancellationToken)
    {
        await _store.FlushAsync(cancellationToken).ConfigureAwait(false);
        return await _store.GetRunTraceAsync(runId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes spans as OTLP-JSON (one <c>ExportTraceServiceRequest</c>): one run's when <paramref name="runId"/> is
    /// given, else every stored span. Spans already finished are written to the store first.
    /// </summary>
    /// <returns>How many spans were written.</returns>
    /// <exception cref="TraceNotFoundException">The run has no stored trace.</exception>
    public async Task<int> ExportOtlpJsonAsync(Stream output, Guid? runId, CancellationToken cancellationToken)
    {
        await _store.FlushAsync(cancellationToken).ConfigureAwait(false);
        return await _store.ExportOtlpJsonAsync(output, runId, cancellationToken).ConfigureAwait(false);
    }
}
