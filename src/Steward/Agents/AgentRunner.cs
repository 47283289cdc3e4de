using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Steward.Budgets;
using Steward.Calls;
using Steward.Evaluation;
using Steward.Providers;
using Steward.Sessions;
using Steward.Storage;
using Steward.Telemetry;

namespace Steward.Agents;

/// <summary>
/// Runs one request through the pipeline, and only orchestrates it: resolve the preset and agent, start the run in its
/// session, run the agent (streaming text, tool calls and results as events) over the governed chat client, whose layers
/// budget, price, trace and record every model call, then store the outcome and deliver it. The answer is final once
/// stored; scoring happens afterwards, in the <see cref="EvaluationQueue"/>, and arrives as a later event. Every run ends
/// in exactly one terminal stage and returns an <see cref="AgentResponse"/> rather than throwing. Thread-safe; one
/// instance serves every session.
/// </summary>
public sealed partial class AgentRunner
{
    private static readonly Task<bool> Stored = Task.FromResult(true);
    private static readonly Task<bool> NotStored = Task.FromResult(false);
    private const string SessionDeletedNote = "Not stored: its session was deleted while it was written.";
    private readonly PresetCatalog _presets;
    private readonly ProviderCatalog _providers;
    private readonly AgentRegistry _registry;
    private readonly SessionStore _sessions;
    // Made when a run finds its session deleted (rare): a process that never meets one has no budget work to start for it.
    private readonly Lazy<Budgets.BudgetEscrow> _budgets;
    private readonly EvaluationQueue _evaluations;
    private readonly Tools.ToolCatalog _tools;
    private readonly TimeProvider _time;
    private readonly ILogger<AgentRunner> _logger;
    private readonly RunTelemetry _telemetry;
    private readonly RunOptions _options;
    private readonly ConcurrentDictionary<Guid, RunInFlight> _inFlight = new();
    private volatile bool _stopping;

    internal AgentRunner(
        PresetCatalog presets, ProviderCatalog providers, AgentRegistry registry, SessionStore sessions, Lazy<Budgets.BudgetEscrow> budgets, EvaluationQueue evaluations,
        Tools.ToolCatalog tools, TimeProvider time, ILogger<AgentRunner> logger, RunTelemetry telemetry, RunOptions options)
    {
        _budgets = budgets;
        _tools = tools;
        _options = options;
        _presets = presets;
        _providers = providers;
        _registry = registry;
        _sessions = sessions;
        _evaluations = evaluations;
        _time = time;
        _logger = logger;
        _telemetry = telemetry;
    }

    /// <summary>How many runs are in progress.</summary>
    public int InFlight => _inFlight.Count;

    /// <summary>
    /// Asks the run <paramref name="runId"/>, if this process is running it, to end as <see cref="RunStatus.Cancelled"/>
    /// (what it generated is kept and counted, as for any cancellation). Whoever started it gets the cancelled outcome.
    /// </summary>
    /// <returns>Whether the run was in progress here; <see langword="false"/> for a finished run or one another process runs.</returns>
    public async Task<bool> CancelAsync(Guid runId)
    {
        if (!_inFlight.TryGetValue(runId, out var run))
        {
            return false;
        }

        try
        {
            await run.CancelAsync().ConfigureAwait(false);
            return true;
        }
        catch (ObjectDisposedException)
        {
            // It ended between the lookup and the cancel.
            return false;
        }
    }

    /// <summary>Runs the request, sending each step to <paramref name="onProgress"/> (the answer's quality, scored after delivery, too).</summary>
    /// <returns>The outcome; cancellation ends the run as <see cref="RunStatus.Cancelled"/> rather than throwing.</returns>
    public async Task<AgentResponse> RunAsync(RunRequest request, Func<RunProgress, ValueTask>? onProgress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var runId = Storage.RecordIds.NewVersion7(_time.GetUtcNow());
        using var activity = StewardTelemetry.ActivitySource.StartActivity($"{StewardTelemetry.RunActivityName} {request.Preset}");
        activity?.SetTag(StewardTelemetry.OperationNameAttribute, StewardTelemetry.RunActivityName);
        activity?.SetTag(StewardTelemetry.PresetAttribute, request.Preset);
        activity?.SetTag(StewardTelemetry.RunAttribute, runId.ToString());
        var state = new RunState(_time) { WriteBehind = request.WriteBehind };
        var log = new RunLog(runId, onProgress, state.Metrics, _time, _logger, activity);
        using var inFlight = Track(runId, cancellationToken);
        var token = inFlight.Token;

        AgentPreset? preset = null;
        ResolvedProvider? provider = null;
        RunRecord? run = null;
        AgentLease? lease = null;
        try
        {
            await log.StageAsync(RunStage.Initializing, $"Preparing preset '{request.Preset}'.").ConfigureAwait(false);
            var query = Validate(request);
            if (request.PassThrough)
            {
                provider = _providers.Resolve(request.Provider, request.Model);
                preset = PassThroughPreset(request.Preset);
            }
            else
            {
                preset = _presets.Get(request.Preset);
                provider = _providers.Resolve(request.Provider ?? preset.Provider, request.Model ?? preset.Model);
            }

            var (session, messages) = await OpenSessionAsync(request, preset, query, token).ConfigureAwait(false);
            activity?.SetTag(StewardTelemetry.SessionAttribute, session.Id.ToString());
            activity?.SetTag(StewardTelemetry.ConversationAttribute, session.Id.ToString());

            var started = new RunRecord
            {
                Id = runId,
                SessionId = session.Id,
                PresetName = preset.Name,
                PresetVersion = preset.Version,
                Provider = provider.Name,
                // A model file is stored by its name: the folder it is loaded from is this machine's business, not History's or the API's.
                Model = StewardTelemetry.ModelName(provider.Model)!,
                Query = query,
                Purpose = ModelCallStore.PurposeName(request.Purpose),
                StartedAt = StoredNow().UtcDateTime,
                TraceId = activity?.TraceId.ToString(),
                ApiKeyId = request.ApiKeyId,
                UserId = RunMetadata.UserId(request.UserId),
                Tags = [.. RunMetadata.Tags(request.Tags).Select(t => new RunTagRecord { RunId = runId, Tag = t })],
            };
            if (request.WriteBehind)
            {
                // Written whole when the run ends, with its session.
                state.UnwrittenSession = request.SessionId is null ? session : null;
            }
            else
            {
                // Not cancellable: a half-known start (row written or not?) would leave the final write nothing to update.
                await _sessions.StartRunAsync(started, request.SessionId is null ? session : null, CancellationToken.None).ConfigureAwait(false);
            }

            run = started;
            token.ThrowIfCancellationRequested();
            lease = _registry.Acquire(preset, provider, session.Id);
            state.Tools = new RunToolCalls(await _tools.PrepareAsync(preset, provider, request.Approver, log.ApprovalAsync, token).ConfigureAwait(false), log, _time);
            await state.Tools.NoteProblemsAsync().ConfigureAwait(false);
            if (state.Tools.Toolset.SearchesFirst)
            {
                messages = await state.Tools.SearchFirstAsync(messages, query, token).ConfigureAwait(false);
            }

            state.Scope = new ModelCallScope(request.Purpose)
            {
                RunId = runId,
                SessionId = session.Id,
                Preset = preset,
                NewSession = request.SessionId is null,
                ApiKeyBudgets = request.ApiKeyBudgets,
                DefaultMaxOutputTokens = request.MaxOutputTokens ?? preset.MaxOutputTokens,
                Reserved = decision => OnReservedAsync(decision, log, provider, state, activity),
            };
            messages = await FitToWindowAsync(lease, messages, request, preset, log).ConfigureAwait(false);
            await log.StageAsync(RunStage.CheckingBudget, "Checking the budget of the first model call.").ConfigureAwait(false);
            await StreamAgentAsync(lease, messages, request, state, log, token).ConfigureAwait(false);
            await NoteAlertsAsync(state, log).ConfigureAwait(false);

            await state.Tools.NoteProblemsAsync().ConfigureAwait(false);
            // An answer that is a request to run the caller's functions is not the answer yet: nothing to score.
            var evaluate = preset.Evaluators.Count > 0 && state.FunctionCalls.Count == 0;
            var response = Response(runId, request, provider, run, state, RunStatus.Completed, activity) with { EvaluationPending = evaluate };
            if (response.FromCache)
            {
                await log.NoteAsync("Served from the response cache: no tokens used, no cost.").ConfigureAwait(false);
            }

            Complete(run, response, evaluate ? "pending" : null);
            var completed = log.Keep(RunStage.Completed, Summarize(response), response);
            var stored = await StoreAsync(run, log, (query, state.Text.ToString()), state).ConfigureAwait(false);
            _telemetry.RecordRun(activity, response);
            // Said with the answer, or whoever asked would look for it in a session that is gone (the terminal line of `steward ask`).
            await log.SendAsync(state.SessionDeleted ? completed with { Message = $"{completed.Message} {SessionDeletedNote}" } : completed).ConfigureAwait(false);
            if (evaluate)
            {
                // The score is stored against the run's row: it must be there first, and a run whose end is not stored (its
                // session deleted meanwhile) has nothing to score against.
                if (!await stored.ConfigureAwait(false))
                {
                    return response with { EvaluationPending = false };
                }

                await _evaluations.EnqueueAsync(new EvaluationRequest(runId, preset, query, response.Text)
                {
                    ToolResults = state.Tools.Results, Citations = response.Citations, Hints = request.Evaluation, SessionId = session.Id,
                    Truncated = response.FinishReason == "length",
                }, log.QualityAsync).ConfigureAwait(false);
            }

            return response;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            var message = _stopping && !cancellationToken.IsCancellationRequested ? "The run was cancelled: Steward is shutting down." : "The run was cancelled.";
            return await EndAsync(RunStatus.Cancelled, RunStage.Cancelled, new RunError(RunErrorCodes.Cancelled, message)).ConfigureAwait(false);
        }
        catch (BudgetExceededException ex)
        {
            _telemetry.RecordBudgetUtilization(ex.Scope, ex.Unit, ex.Limit, ex.Spent + ex.Reserved + ex.Needed);
            var calls = state.Scope?.Calls.Count ?? 0;
            var message = calls == 0 ? ex.Message : $"{ex.Message} Refused at model call {calls + 1}; what the {calls} earlier call{(calls == 1 ? "" : "s")} did is kept.";
            return await EndAsync(RunStatus.BudgetExceeded, RunStage.BudgetExceeded, new RunError(RunErrorCodes.BudgetExceeded, message)).ConfigureAwait(false);
        }
        catch (Exception ex) when (Classify(ex) is { } error)
        {
            activity?.SetStatus(ActivityStatusCode.Error, error.Code);
            if (error.Code == RunErrorCodes.Internal)
            {
                LogRunDefect(ex, runId);
            }
            else
            {
                LogRunFailed(runId, error.Code, error.Message);
            }

            return await EndAsync(RunStatus.Failed, RunStage.Failed, error).ConfigureAwait(false);
        }
        finally
        {
            lease?.Dispose();
        }

        async Task<AgentResponse> EndAsync(RunStatus status, RunStage stage, RunError error)
        {
            await NoteAlertsAsync(state, log).ConfigureAwait(false);
            var response = Response(runId, request, provider, run, state, status, activity) with { Error = error, Preset = preset?.Name ?? request.Preset };
            _telemetry.RecordRun(activity, response);
            var terminal = log.Keep(stage, error.Message, response);
            if (run is not null)
            {
                Complete(run, response, evaluationStatus: null);
                await StoreAsync(run, log, exchange: null, state).ConfigureAwait(false);
            }

            await log.SendAsync(terminal).ConfigureAwait(false);
            return response;
        }
    }

    /// <summary>The same run as a stream of progress events, ending with the terminal one (or, with <paramref name="untilScored"/>, the quality).</summary>
    public async IAsyncEnumerable<RunProgress> StreamAsync(
        RunRequest request, bool untilScored = false, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<RunProgress>(new UnboundedChannelOptions { SingleReader = true });
        var run = Task.Run(async () =>
        {
            try
            {
                var response = await RunAsync(request, p => channel.Writer.WriteAsync(p, CancellationToken.None), cancellationToken).ConfigureAwait(false);
                if (untilScored && response.EvaluationPending)
                {
                    await WaitForQualityAsync(response.RunId, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stopped waiting for the score; the run itself ended and said so.
            }
            finally
            {
                channel.Writer.TryComplete();
            }
        }, CancellationToken.None);

        await foreach (var progress in channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            yield return progress;
        }

        await run.ConfigureAwait(false);
    }

    /// <summary>
    /// The quality of a delivered answer, once scored in the background; <see langword="null"/> when it was not scored
    /// (no evaluators, or skipped).
    /// </summary>
    public Task<QualityResult?> WaitForQualityAsync(Guid runId, CancellationToken cancellationToken = default) =>
        _evaluations.WaitAsync(runId, cancellationToken);

    /// <summary>
    /// Ends every run in progress as cancelled and waits (up to <paramref name="timeout"/>) until each has stored its
    /// outcome, then lets the evaluation queue score what it holds for up to <c>Steward:Evaluation:DrainTimeout</c> and
    /// records the rest as skipped. Called when the process stops (Ctrl+C, SIGTERM, host shutdown), so no run is left
    /// <c>Running</c> and no answer is left unscored without saying so. Later runs are cancelled at once.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        await CancelRunsAsync(timeout).ConfigureAwait(false);
        await _evaluations.DisposeAsync().ConfigureAwait(false);
    }

    private async Task CancelRunsAsync(TimeSpan timeout)
    {
        _stopping = true;
        foreach (var run in _inFlight.Values)
        {
            await run.CancelAsync().ConfigureAwait(false);
        }

        var deadline = _time.GetTimestamp();
        while (!_inFlight.IsEmpty && _time.GetElapsedTime(deadline) < timeout)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), _time).ConfigureAwait(false);
        }
    }

    private RunInFlight Track(Guid runId, CancellationToken cancellationToken)
    {
        var run = new RunInFlight(runId, this, cancellationToken);
        _inFlight[runId] = run;
        if (_stopping)
        {
            run.Cancel();
        }

        return run;
    }

    private string Validate(RunRequest request)
    {
        var length = request.Messages?.Sum(m => (long)m.Text.Length) ?? request.Query.Length;
        if (length > _options.MaxInputCharacters)
        {
            // Refused before anything is counted or sent: counting or sending a request this size is the problem itself.
            throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"The request is {length:N0} characters long; Steward takes at most {_options.MaxInputCharacters:N0} (Steward:Runs:MaxInputCharacters). Shorten it, or raise the limit."));
        }

        if (request.Messages is { } messages)
        {
            if (request.SessionId is not null || !string.IsNullOrEmpty(request.Query))
            {
                throw new ArgumentException("A request carries either a question (with or without a session) or a whole conversation in Messages, not both.");
            }

            // A tool's result may come last: the caller ran the functions the model asked for and sends back what they returned.
            var last = messages.Count == 0 ? null : messages[^1];
            var lastUser = messages.LastOrDefault(m => m.Role == ChatRole.User);
            if (last is null || lastUser is null || (last.Role != ChatRole.User && last.Role != ChatRole.Tool)
                || (last.Role == ChatRole.User && string.IsNullOrWhiteSpace(last.Text) && !last.Contents.Any(c => c is DataContent or UriContent)))
            {
                throw new ArgumentException("The conversation must end with the user's message (or a tool's result), and it must not be empty.");
            }

            return string.IsNullOrWhiteSpace(lastUser.Text) ? "(attachment)" : lastUser.Text;
        }

        return string.IsNullOrWhiteSpace(request.Query)
            ? throw new ArgumentException("The question is empty; say what you want the agent to do.")
            : request.Query;
    }

    private async Task<(SessionRecord Session, IReadOnlyList<ChatMessage> Messages)> OpenSessionAsync(
        RunRequest request, AgentPreset preset, string query, CancellationToken cancellationToken)
    {
        if (request.Messages is { } conversation)
        {
            return (_sessions.NewSession(preset.Name, query), conversation);
        }

        if (request.SessionId is not { } id)
        {
            return (_sessions.NewSession(preset.Name, query), [new ChatMessage(ChatRole.User, query)]);
        }

        var session = await _sessions.GetSessionAsync(id, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(session.PresetName, preset.Name, StringComparison.Ordinal))
        {
            // Another agent's conversation would be continued under instructions it was never held to.
            throw new ArgumentException(
                $"Session {session.Id} is a conversation with agent '{session.PresetName}'; continue it with that agent, or leave out the session to start a new one with '{preset.Name}'.");
        }

        var history = await _sessions.GetHistoryAsync(id, cancellationToken).ConfigureAwait(false);
        return (session, [.. history, new ChatMessage(ChatRole.User, query)]);
    }

    /// <summary>
    /// A conversation that has outgrown the model's window (where Steward knows it) keeps going: its oldest turns are
    /// left out of what is sent, and the progress log says so. The stored history is not changed.
    /// </summary>
    private static async Task<IReadOnlyList<ChatMessage>> FitToWindowAsync(AgentLease lease, IReadOnlyList<ChatMessage> messages, RunRequest request, AgentPreset preset, RunLog log)
    {
        if (lease.Agent.GetService<IChatClient>() is not { } client || ContextWindow.Of(client) is not { } window || client.GetService<LocalModels.LocalChatClient>() is not { } local)
        {
            return messages;
        }

        var options = new ChatOptions { Instructions = preset.Instructions, Tools = request.Options?.Tools };
        var answer = request.MaxOutputTokens ?? preset.MaxOutputTokens ?? 512;
        var (fitted, leftOut) = ContextWindow.Fit(messages, m => local.CountPromptTokens(m, options), answer, window);
        if (leftOut > 0)
        {
            await log.NoteAsync(FormattableString.Invariant(
                $"Left out the {leftOut} oldest message{(leftOut == 1 ? "" : "s")} of the conversation to fit the model's {window:N0}-token context window.")).ConfigureAwait(false);
        }

        return fitted;
    }

    private static async ValueTask OnReservedAsync(string decision, RunLog log, ResolvedProvider provider, RunState state, Activity? activity)
    {
        if (log.Stage == RunStage.CheckingBudget)
        {
            activity?.SetTag(StewardTelemetry.BudgetDecisionAttribute, decision);
            await log.StageAsync(RunStage.Running, $"{decision} Asking {Telemetry.StewardTelemetry.ModelName(provider.Model)} on {provider.Name}.").ConfigureAwait(false);
            return;
        }

        // A later call of the tool loop: its own reservation, said in the progress log.
        await log.NoteAsync($"Model call {state.Scope!.Calls.Count + 1}: {decision}").ConfigureAwait(false);
    }

    private static async Task StreamAgentAsync(AgentLease lease, IReadOnlyList<ChatMessage> messages, RunRequest request, RunState state, RunLog log, CancellationToken cancellationToken)
    {
        var options = state.Scope!.ApplyTo(request.Options);
        if (request.MaxOutputTokens is { } cap)
        {
            options.MaxOutputTokens = cap;
        }

        if (state.Tools?.Toolset is { Tools.Count: > 0 } toolset)
        {
            options.Tools = [.. options.Tools ?? [], .. toolset.Tools];
        }

        var tools = state.Tools!;
        var own = (state.Tools?.Toolset.Tools ?? []).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        // A pass-through run has no instructions and no tools of Steward's to invoke: the agent around the governed client
        // would add nothing but its layers.
        var updates = request.PassThrough
            ? (request.WholeAnswer ? WholeAsync(lease.Client, messages, options, cancellationToken) : lease.Client.GetStreamingResponseAsync(messages, options, cancellationToken))
                .Select(u => (u.Contents, Raw: (ChatResponseUpdate?)u))
            : lease.Agent.RunStreamingAsync(messages, session: null, new ChatClientAgentRunOptions(options), cancellationToken)
                .Select(u => (u.Contents, Raw: u.RawRepresentation as ChatResponseUpdate));
        await foreach (var update in updates.ConfigureAwait(false))
        {
            if (log.Stage == RunStage.CheckingBudget)
            {
                // A client without the budget layer says nothing before the call: the answer arriving is Running then.
                await log.StageAsync(RunStage.Running, "Answering.").ConfigureAwait(false);
            }

            tools.Observe(update.Raw);
            foreach (var content in update.Contents)
            {
                if (content is TextContent { Text.Length: > 0 } t)
                {
                    state.TimeToFirstToken ??= state.Elapsed;
                    tools.Cite(t);
                    state.Text.Append(t.Text);
                    await log.DeltaAsync(t.Text).ConfigureAwait(false);
                }
                else
                {
                    await tools.ObserveAsync(content).ConfigureAwait(false);
                    if (content is FunctionCallContent { InformationalOnly: false } call && !own.Contains(call.Name))
                    {
                        state.FunctionCalls.Add(call);
                        await log.FunctionCallAsync(call).ConfigureAwait(false);
                    }
                }
            }
        }
    }

    /// <summary>
    /// A whole answer as the updates a stream of it would have been: the provider is asked once for the whole answer (no
    /// server-sent events to parse and reassemble), and the run goes on as for a stream.
    /// </summary>
    private static async IAsyncEnumerable<ChatResponseUpdate> WholeAsync(
        IChatClient client, IReadOnlyList<ChatMessage> messages, ChatOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var response = await client.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        foreach (var update in response.ToChatResponseUpdates())
        {
            yield return update;
        }
    }

    /// <summary>
    /// Says in the progress log what the run's calls raised since last asked: budget alerts, and calls whose provider
    /// reported more output than the cap it was sent (recorded as reported, so the spend is real; the run is flagged).
    /// </summary>
    private async ValueTask NoteAlertsAsync(RunState state, RunLog log)
    {
        foreach (var alert in state.Scope?.TakeAlerts() ?? [])
        {
            _telemetry.RecordBudgetUtilization(alert.Scope, alert.Unit, alert.Limit, alert.Spent);
            await log.NoteAsync(alert.Describe()).ConfigureAwait(false);
        }

        var calls = state.Scope?.Calls ?? [];
        for (; state.CallsNoted < calls.Count; state.CallsNoted++)
        {
            if (calls[state.CallsNoted] is { Anomaly: { } anomaly } call)
            {
                await log.NoteAsync(ModelCall.DescribeAnomaly(anomaly, calls.Count > 1 ? call.Sequence : null)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Stores the run with its calls and progress log, then moves its calls' spend into the budget counters: committed
    /// after the records, so a crash in between leaves counters that undercount, never records that do. Neither step can
    /// be cancelled (the model was used whatever the caller does now); a failed write is retried, then logged, and the
    /// run is left for a live process's sweep to mark interrupted. A write-behind run is queued whole and not waited for.
    /// The returned task ends once the run is stored (or given up on) and its spend committed, with whether it is stored.
    /// </summary>
    private async Task<Task<bool>> StoreAsync(RunRecord run, RunLog log, (string Query, string Answer)? exchange, RunState state)
    {
        var calls = state.Scope?.Calls ?? [];
        run.ToolCalls = [.. (state.Tools?.Calls ?? []).Select((t, i) => ToolRecords.ToRecord(run.Id, i + 1, t))];
        run.Citations = [.. (state.Tools?.Citations(state.Text.ToString()) ?? []).Select(c => ToolRecords.ToRecord(run.Id, c))];
        if (state.WriteBehind)
        {
            var write = await _sessions.StoreBehindAsync(run, state.UnwrittenSession, log.StoredEvents, exchange, calls).ConfigureAwait(false);
            return CommitBehindAsync(write, run.Id, state.Scope);
        }

        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await _sessions.FinishRunAsync(run, log.StoredEvents, exchange, calls, CancellationToken.None).ConfigureAwait(false);
                    return Stored;
                }
                catch (Exception ex) when (ex is Microsoft.EntityFrameworkCore.DbUpdateException or System.Data.Common.DbException)
                {
                    // Deleting a session deletes its runs, this one's start included: its end has nowhere to go, and that is
                    // what the person asked for, not a storage failure.
                    if (await SessionDeletedAsync(run.SessionId).ConfigureAwait(false))
                    {
                        LogSessionDeletedWhileRunning(run.Id);
                        state.SessionDeleted = true;
                        return NotStored;
                    }

                    if (attempt == 3)
                    {
                        LogFinishNotStored(ex, run.Id);
                        return NotStored;
                    }
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), _time).ConfigureAwait(false);
            }
        }
        finally
        {
            if (state.Scope is { } scope)
            {
                await scope.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            // Whoever deleted the session (another process, say) could not remove its budget counter while this run held on
            // it, and this run's spend, just committed, would bring it back for good: this process forgets it once written.
            if (state.SessionDeleted)
            {
                await _budgets.Value.ForgetDeletedSessionAsync(run.SessionId).ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> SessionDeletedAsync(Guid sessionId)
    {
        try
        {
            await _sessions.GetSessionAsync(sessionId, CancellationToken.None).ConfigureAwait(false);
            return false;
        }
        catch (SessionNotFoundException)
        {
            return true;
        }
        catch (Exception ex) when (ex is Microsoft.EntityFrameworkCore.DbUpdateException or System.Data.Common.DbException or InvalidOperationException)
        {
            // The store cannot say: treated as the storage failure it most likely is.
            return false;
        }
    }

    private async Task<bool> CommitBehindAsync(Task write, Guid runId, ModelCallScope? scope)
    {
        try
        {
            await write.ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or IOException or Storage.StorageException)
        {
            LogWriteBehindLost(ex, runId);
            return false;
        }
        finally
        {
            if (scope is not null)
            {
                await scope.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private AgentResponse Response(Guid runId, RunRequest request, ResolvedProvider? provider, RunRecord? run, RunState state, RunStatus status, Activity? activity)
    {
        var calls = state.Scope?.Calls ?? [];
        var text = state.Text.ToString();
        return new AgentResponse
        {
            RunId = runId,
            SessionId = run?.SessionId,
            Status = status,
            Preset = request.Preset,
            Provider = provider?.Name,
            Model = StewardTelemetry.ModelName(provider?.Model),
            Text = status == RunStatus.Completed ? text : "",
            StartedAt = run is null ? null : new DateTimeOffset(run.StartedAt, TimeSpan.Zero),
            EndedAt = run is null ? null : StoredNow(),
            PartialText = status != RunStatus.Completed && text.Length > 0 ? text : null,
            Usage = state.Scope?.TotalUsage ?? RunUsage.Zero,
            Cost = state.Scope?.TotalCost ?? new RunCost(0m),
            Duration = state.End(),
            TimeToFirstToken = state.TimeToFirstToken,
            ToolCalls = [.. state.Tools?.Calls ?? []],
            Citations = state.Tools?.Citations(text) ?? [],
            TraceId = activity?.TraceId.ToString(),
            FromCache = calls.Count > 0 && calls.All(c => c.FromCache),
            FinishReason = calls.Count > 0 ? calls[^1].FinishReason : null,
            UsageEstimated = calls.Any(c => c.UsageEstimated),
            Anomaly = calls.Select(c => c.Anomaly).LastOrDefault(a => a is not null),
            Calls = calls,
            FunctionCalls = [.. state.FunctionCalls],
        };
    }

    /// <summary>A run without a preset: the model alone, as the caller asked for it.</summary>
    private static AgentPreset PassThroughPreset(string name) => new()
    {
        Name = name, DisplayName = name, Instructions = "", Version = "pass-through", SourcePath = "",
    };

    // Stored rows keep microseconds (PostgreSQL): the response carries exactly the instants its row will, on either provider.
    private DateTimeOffset StoredNow()
    {
        var now = _time.GetUtcNow();
        return now.AddTicks(-(now.Ticks % 10));
    }

    private void Complete(RunRecord run, AgentResponse response, string? evaluationStatus)
    {
        run.Status = response.Status.ToString();
        // The response says when the run ended; the row says the same, so the API's two views of a run agree.
        run.EndedAt = (response.EndedAt ?? _time.GetUtcNow()).UtcDateTime;
        run.DurationMs = response.Duration.TotalMilliseconds;
        run.TimeToFirstTokenMs = response.TimeToFirstToken?.TotalMilliseconds;
        run.InputTokens = response.Usage.InputTokens;
        run.CachedInputTokens = response.Usage.CachedInputTokens;
        run.OutputTokens = response.Usage.OutputTokens;
        run.ReasoningTokens = response.Usage.ReasoningTokens;
        run.CostNanoUsd = NanoUsd.FromUsd(response.Cost.Usd);
        run.FromCache = response.FromCache;
        run.UsageEstimated = response.UsageEstimated;
        run.FinishReason = response.FinishReason;
        run.Anomaly = response.Anomaly;
        run.PartialAnswer = response.PartialText;
        run.EvaluationStatus = evaluationStatus;
        run.Error = response.Error?.Message;
        run.ErrorKind = response.Error?.Code;
    }

    private static RunError? Classify(Exception ex) => ex switch
    {
        PresetNotFoundException => new RunError(RunErrorCodes.PresetNotFound, ex.Message),
        PresetLoadException => new RunError(RunErrorCodes.PresetInvalid, ex.Message),
        ProviderNotConfiguredException => new RunError(RunErrorCodes.ProviderNotConfigured, ex.Message),
        ProviderException p => new RunError(RunErrorCodes.Provider(p.Kind), ex.Message),
        SessionNotFoundException => new RunError(RunErrorCodes.SessionNotFound, ex.Message),
        LocalModels.ContextWindowExceededException => new RunError(RunErrorCodes.ContextWindowExceeded, ex.Message),
        ArgumentException => new RunError(RunErrorCodes.InvalidRequest, ex.Message),
        // Anything else is a defect; the user gets a message without internals, the log gets the exception.
        _ => new RunError(RunErrorCodes.Internal, "The run failed unexpectedly. Details are in the application log."),
    };

    private static string Summarize(AgentResponse r)
    {
        var calls = r.Calls.Count == 1 ? "" : FormattableString.Invariant($" in {r.Calls.Count} model calls");
        var cut = r.FinishReason == "length" ? " The answer was cut off at the output cap." : "";
        var estimated = r.UsageEstimated ? " (counted by Steward: the provider reported no usage)" : "";
        return FormattableString.Invariant(
            $"Done in {r.Duration.TotalSeconds:0.00} s: {r.Usage.InputTokens:N0} input and {r.Usage.OutputTokens:N0} output tokens{estimated}{calls}.{cut}");
    }

    // Expected failures (provider down, bad key, unknown preset) carry a user-facing message already; a stack trace
    // would only bury it. Unexpected ones are defects and are logged with the exception.
    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Run {RunId} failed ({Code}): {Reason}")]
    private partial void LogRunFailed(Guid runId, string code, string reason);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Error, Message = "Run {RunId} failed unexpectedly.")]
    private partial void LogRunDefect(Exception exception, Guid runId);

    [LoggerMessage(EventId = 1305, Level = LogLevel.Error, Message = "Run {RunId}, answered already, could not be stored (write-behind); its spend is still counted.")]
    private partial void LogWriteBehindLost(Exception exception, Guid runId);

    [LoggerMessage(EventId = 1306, Level = LogLevel.Information, Message = "Run {RunId}'s session was deleted while it ran: its end is not stored and its answer not scored.")]
    private partial void LogSessionDeletedWhileRunning(Guid runId);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Error, Message = "The end of run {RunId} could not be stored; a live process's sweep marks it interrupted once this one is gone.")]
    private partial void LogFinishNotStored(Exception exception, Guid runId);

    /// <summary>What a run has done so far: the runner's state, which progress events report.</summary>
    private sealed class RunState(TimeProvider time)
    {
        private readonly long _started = time.GetTimestamp();

        public ModelCallScope? Scope { get; set; }

        public RunToolCalls? Tools { get; set; }

        public StringBuilder Text { get; } = new();

        /// <summary>The run is stored whole when it ends, not waited for.</summary>
        public bool WriteBehind { get; init; }

        /// <summary>How many of the scope's calls <see cref="NoteAlertsAsync"/> has looked at (each call's anomaly is said once).</summary>
        public int CallsNoted { get; set; }

        /// <summary>A write-behind run's new session, stored with it.</summary>
        public SessionRecord? UnwrittenSession { get; set; }

        /// <summary>Calls of the caller's own functions, which end the run for the caller to answer.</summary>
        public List<FunctionCallContent> FunctionCalls { get; } = [];

        public TimeSpan? TimeToFirstToken { get; set; }

        /// <summary>The run's session was deleted (by anyone) before its end was stored: its end has nowhere to go.</summary>
        public bool SessionDeleted { get; set; }

        private TimeSpan? _duration;

        /// <summary>How long the run has taken; once it ended (<see cref="End"/>), how long it took.</summary>
        public TimeSpan Elapsed => _duration ?? time.GetElapsedTime(_started);

        /// <summary>
        /// Fixes the run's duration at its end (the first call; later calls return it): the events that follow (the answer
        /// scored after delivery) carry the duration the run is stored with, not the time until they were sent.
        /// </summary>
        public TimeSpan End() => _duration ??= Elapsed;

        public RunMetrics Metrics() =>
            new(Scope?.TotalUsage ?? RunUsage.Zero, Elapsed, TimeToFirstToken, Scope is { } scope && scope.Calls.Count > 0 ? scope.TotalCost : null);
    }

    /// <summary>A run in progress: its own cancellation (the caller's, or the process stopping), removed from the runner when it ends.</summary>
    private sealed class RunInFlight(Guid runId, AgentRunner owner, CancellationToken callerToken) : IDisposable
    {
        private readonly CancellationTokenSource _source = CancellationTokenSource.CreateLinkedTokenSource(callerToken);

        public CancellationToken Token => _source.Token;

        public void Cancel() => _source.Cancel();

        public Task CancelAsync() => _source.CancelAsync();

        public void Dispose()
        {
            owner._inFlight.TryRemove(runId, out _);
            _source.Dispose();
        }
    }
}
