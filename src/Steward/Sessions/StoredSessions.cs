using System.Text.Json;
using Steward.Agents;
using Steward.Budgets;
using Steward.Evaluation;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>
/// The sessions stored in Steward's database, as the hosts (web UI, API, CLI) see them: listed, read, exported,
/// imported and deleted as read models, never as storage entities. Registered by <c>AddSteward</c>; thread-safe.
/// </summary>
public sealed class StoredSessions
{
    private readonly SessionStore _store;
    private readonly SessionExporter _exporter;
    private readonly EvaluationStore _evaluations;
    // Made on the first delete: a process that only lists or reads sessions (most CLI commands) has no budget work to start.
    private readonly Lazy<BudgetEscrow> _budgets;

    internal StoredSessions(SessionStore store, SessionExporter exporter, EvaluationStore evaluations, Lazy<BudgetEscrow> budgets)
    {
        _store = store;
        _exporter = exporter;
        _evaluations = evaluations;
        _budgets = budgets;
    }

    /// <summary>
    /// The JSON settings of Steward's export documents (snake_case names, enums as text, indented, nulls written), for a
    /// host that writes or reads them itself. Shared; do not modify.
    /// </summary>
    public static JsonSerializerOptions ExportJsonOptions => SessionExporter.JsonOptions;

    /// <summary>Lists sessions, most recently updated first.</summary>
    /// <param name="preset">Only sessions of this preset; <see langword="null"/> for all.</param>
    /// <param name="skip">How many sessions to pass over (paging).</param>
    /// <param name="take">How many sessions to return at most.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public Task<IReadOnlyList<ChatSessionSummary>> ListAsync(string? preset, int skip, int take, CancellationToken cancellationToken) =>
        _store.ListAsync(preset, skip, take, cancellationToken);

    /// <summary>How many sessions each preset has (by preset name); a preset without sessions has no entry.</summary>
    public Task<IReadOnlyDictionary<string, int>> CountByPresetAsync(CancellationToken cancellationToken) => _store.CountByPresetAsync(cancellationToken);

    /// <summary>Reads one session with its messages and runs.</summary>
    /// <exception cref="SessionNotFoundException">No session has this id.</exception>
    public Task<ChatSessionDetail> GetAsync(Guid sessionId, CancellationToken cancellationToken) => _store.GetAsync(sessionId, cancellationToken);

    /// <summary>Deletes a session with its messages, runs, model calls and scores, and its budget counter.</summary>
    /// <exception cref="SessionNotFoundException">No session has this id.</exception>
    public async Task DeleteAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await _store.DeleteAsync(sessionId, cancellationToken).ConfigureAwait(false);
        await _budgets.Value.ForgetDeletedSessionAsync(sessionId).ConfigureAwait(false);
    }

    /// <summary>Finds the session a stored run belongs to.</summary>
    /// <returns>The session's id, or <see langword="null"/> when no run with this id is stored (yet).</returns>
    public async Task<Guid?> FindSessionOfRunAsync(Guid runId, CancellationToken cancellationToken)
    {
        var found = await _store.FindStoredRunsAsync([runId], cancellationToken).ConfigureAwait(false);
        return found.Count == 0 ? null : found[0].SessionId;
    }

    /// <summary>The stored quality scores of the given runs; a run not (yet) scored has no entry.</summary>
    public Task<IReadOnlyDictionary<Guid, QualityResult>> GetQualityAsync(IReadOnlyCollection<Guid> runIds, CancellationToken cancellationToken) =>
        _evaluations.LoadResultsAsync(runIds, cancellationToken);

    /// <summary>Writes a session as a versioned JSON export document (<see cref="SessionExportDocument"/>).</summary>
    /// <exception cref="SessionNotFoundException">No session has this id.</exception>
    public Task ExportAsync(Guid sessionId, Stream destination, CancellationToken cancellationToken) =>
        _exporter.WriteAsync(sessionId, destination, cancellationToken);

    /// <summary>Reads an export document and stores its session. Nothing is written unless the whole document is valid.</summary>
    /// <param name="source">The export document.</param>
    /// <param name="asCopy">Give the session and its runs new ids, so an export of a stored session can sit beside it.</param>
    /// <param name="cancellationToken">Cancels the import; nothing is stored then.</param>
    /// <returns>The id of the stored session.</returns>
    /// <exception cref="SessionImportException">The document is malformed, of an unknown version, or the session exists.</exception>
    public Task<Guid> ImportAsync(Stream source, bool asCopy, CancellationToken cancellationToken) =>
        _exporter.ImportAsync(source, asCopy, cancellationToken);
}
