using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Steward.Budgets;
using Steward.Costs;
using Steward.Evaluation;
using Steward.Providers;
using Steward.Sessions;
using Steward.Storage;
using Steward.Telemetry;

namespace Steward.Agents;

/// <summary>
/// Runs one agent query through the pipeline: resolve the preset and agent, check the budget, run the agent
/// (streaming), price and settle, evaluate, store. Every run ends in exactly one terminal stage and returns an
/// <see cref="AgentResponse"/> rather than throwing; the reason of a failure is in <see cref="AgentResponse.Error"/>.
/// Thread-safe; one instance serves every session.
/// </summary>
public sealed partial class AgentRunner
{
    private readonly PresetCatalog _presets;
    private readonly ProviderCatalog _providers;
    private readonly AgentRegistry _registry;
    private readonly SessionStore _sessions;
    private readonly IBudgetGate _budget;
    private readonly IRunPricer _pricer;
    private readonly IRunEvaluator _evaluator;
    private readonly TimeProvider _time;
    private readonly ILogger<AgentRunner> _logger;
    private readonly bool _cacheEnabled;
    private readonly RunTelemetry _telemetry;

    internal AgentRunner(
        PresetCatalog presets, ProviderCatalog providers, AgentRegistry registry, SessionStore sessions, IBudgetGate budget,
        IRunPricer pricer, IRunEvaluator evaluator, TimeProvider time, ILogger<AgentRunner> logger, RunTelemetry telemetry, bool responseCacheEnabled = false)
    {
        _telemetry = telemetry;
        _cacheEnabled = responseCacheEnabled;
        _presets = presets;
        _providers = providers;
        _registry = registry;
        _sessions = sessions;
        _budget = budget;
        _pricer = pricer;
        _evaluator = evaluator;
        _time = time;
        _logger = logger;
    }

    /// <summary>Runs the request, sending each step to <paramref name="onProgress"/>.</summary>
    /// <returns>The outcome; cancellation ends the run as <see cref="RunStatus.Cancelled"/> rather than throwing.</returns>
    public async Task<AgentResponse> RunAsync(RunRequest request, Func<RunProgress, ValueTask>? onProgress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var runId = Guid.CreateVersion7(_time.GetUtcNow());
        using var activity = StewardTelemetry.ActivitySource.StartActivity($"{StewardTelemetry.RunActivityName} {request.Preset}");
        activity?.SetTag(StewardTelemetry.OperationNameAttribute, StewardTelemetry.RunActivityName);
        activity?.SetTag(StewardTelemetry.PresetAttribute, request.Preset);
        activity?.SetTag(StewardTelemetry.RunAttribute, runId.ToString());
        var log = new RunLog(runId, onProgress, _time, _logger, activity);

        AgentPreset? preset = null;
        ResolvedProvider? provider = null;
        RunRecord? run = null;
        IBudgetReservation? reservation = null;
        AgentLease? lease = null;
        var text = new System.Text.StringBuilder();
        var toolCalls = new List<ToolCallProgress>();
        var toolResults = new List<ToolResult>();
        var fromCache = false;

        AgentResponse Response(RunStatus status, RunError? error = null) => new()
        {
            RunId = runId,
            SessionId = run?.SessionId,
            Status = status,
            Preset = request.Preset,
            Provider = provider?.Name,
            Model = provider?.Model,
            Text = status == RunStatus.Completed ? text.ToString() : "",
            Usage = log.Usage,
            Cost = log.Cost ?? RunCost.Unpriced,
            Duration = log.Elapsed,
            TimeToFirstToken = log.TimeToFirstToken,
            ToolCalls = toolCalls,
            TraceId = activity?.TraceId.ToString(),
            FromCache = fromCache,
            Error = error,
        };

        try
        {
            await log.StageAsync(RunStage.Initializing, $"Preparing preset '{request.Preset}'.").ConfigureAwait(false);
            if (string.IsNullOrWhiteSpace(request.Query))
            {
                throw new ArgumentException("The question is empty; say what you want the agent to do.");
            }

            preset = _presets.Get(request.Preset);
            provider = _providers.Resolve(request.Provider ?? preset.Provider, request.Model ?? preset.Model);
            var session = await _sessions.GetOrCreateAsync(request.SessionId, preset.Name, request.Query, cancellationToken).ConfigureAwait(false);
            activity?.SetTag(StewardTelemetry.SessionAttribute, session.Id.ToString());
            activity?.SetTag(StewardTelemetry.ConversationAttribute, session.Id.ToString());
            var history = await _sessions.GetHistoryAsync(session.Id, cancellationToken).ConfigureAwait(false);
            var messages = history.Append(new ChatMessage(ChatRole.User, request.Query)).ToArray();

            var started = new RunRecord
            {
                Id = runId,
                SessionId = session.Id,
                PresetName = preset.Name,
                PresetVersion = preset.Version,
                Provider = provider.Name,
                Model = provider.Model,
                Query = request.Query,
                StartedAt = _time.GetUtcNow().UtcDateTime,
                TraceId = activity?.TraceId.ToString(),
            };
            // Not cancellable: a half-known start (row written or not?) would leave the final write nothing to update.
            await _sessions.StartRunAsync(started, CancellationToken.None).ConfigureAwait(false);
            run = started;
            cancellationToken.ThrowIfCancellationRequested();
            lease = _registry.Acquire(preset, provider, session.Id);

            var maxOutput = request.MaxOutputTokens ?? preset.MaxOutputTokens;
            await log.StageAsync(RunStage.CheckingBudget, "Checking the budget.").ConfigureAwait(false);
            using (var budgetSpan = StewardTelemetry.ActivitySource.StartActivity(StewardTelemetry.BudgetCheckActivityName))
            {
                reservation = await _budget.ReserveAsync(
                    new BudgetRequest(runId, session.Id, preset, provider, messages, maxOutput, lease.Agent.GetService<IChatClient>(),
                        (input, output) => _pricer.PriceWorstCase(provider, input, output), NewSession: request.SessionId is null), cancellationToken).ConfigureAwait(false);
                budgetSpan?.SetTag(StewardTelemetry.BudgetDecisionAttribute, reservation.Decision);
                activity?.SetTag(StewardTelemetry.BudgetDecisionAttribute, reservation.Decision);
            }

            await log.StageAsync(RunStage.Running, $"{reservation.Decision} Asking {provider.Model} on {provider.Name}.").ConfigureAwait(false);
            RunUsage usage;
            string? responseModel;
            using (var probe = ResponseCacheProbe.Begin())
            {
                (usage, responseModel) = await StreamAgentAsync(lease, messages, maxOutput, log, text, toolCalls, toolResults, cancellationToken).ConfigureAwait(false);
                // A cached response replays the original usage; it was not paid for again, so it counts nothing.
                fromCache = _cacheEnabled && !probe.ProviderCalled;
            }

            if (fromCache)
            {
                usage = RunUsage.Zero;
                await log.NoteAsync("Served from the response cache: no tokens used, no cost.").ConfigureAwait(false);
            }

            log.Usage = usage;
            log.Cost = _pricer.Price(new PricingRequest(provider, responseModel, usage, fromCache));
            var settling = reservation;
            reservation = null;
            // Settling must happen even if the caller gives up now: the model was paid for.
            using (StewardTelemetry.ActivitySource.StartActivity(StewardTelemetry.BudgetSettleActivityName))
            {
                foreach (var alert in await settling.SettleAsync(usage, log.Cost, CancellationToken.None).ConfigureAwait(false))
                {
                    _telemetry.RecordBudgetUtilization(alert.Scope, alert.Unit, alert.Limit, alert.Spent);
                    await log.NoteAsync(alert.Describe()).ConfigureAwait(false);
                }
            }

            Complete(run, RunStatus.Completed, log, null, fromCache);
            await _sessions.FinishRunAsync(run, [], (request.Query, text.ToString()), CancellationToken.None).ConfigureAwait(false);

            await log.StageAsync(RunStage.Evaluating, preset.Evaluators.Count == 0 ? "No evaluators configured for this preset." : "Scoring the answer.").ConfigureAwait(false);
            QualityResult? quality;
            using (StewardTelemetry.ActivitySource.StartActivity(StewardTelemetry.EvaluationActivityName))
            {
                quality = await EvaluateAsync(
                    new EvaluationRequest(runId, preset, request.Query, text.ToString()) { ToolResults = toolResults, Hints = request.Evaluation }, cancellationToken).ConfigureAwait(false);
            }

            if (quality is not null)
            {
                await log.QualityAsync(quality).ConfigureAwait(false);
            }

            var response = Response(RunStatus.Completed) with { Quality = quality };
            await log.StageAsync(RunStage.Completed, Summarize(response), response).ConfigureAwait(false);
            await _sessions.FinishRunAsync(run, log.StoredEvents, null, CancellationToken.None).ConfigureAwait(false);
            _telemetry.RecordRun(activity, response);
            return response;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return await EndAsync(RunStatus.Cancelled, RunStage.Cancelled, new RunError("cancelled", "The run was cancelled.")).ConfigureAwait(false);
        }
        catch (BudgetExceededException ex)
        {
            _telemetry.RecordBudgetUtilization(ex.Scope, ex.Unit, ex.Limit, ex.Spent + ex.Reserved + ex.Needed);
            return await EndAsync(RunStatus.BudgetExceeded, RunStage.BudgetExceeded, new RunError("budget_exceeded", ex.Message)).ConfigureAwait(false);
        }
        catch (Exception ex) when (Classify(ex) is { } error)
        {
            activity?.SetStatus(ActivityStatusCode.Error, error.Code);
            if (error.Code == InternalErrorCode)
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
            if (reservation is not null)
            {
                await reservation.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
            }

            lease?.Dispose();
        }

        async Task<AgentResponse> EndAsync(RunStatus status, RunStage stage, RunError error)
        {
            var response = Response(status, error);
            _telemetry.RecordRun(activity, response);
            await log.StageAsync(stage, error.Message, response).ConfigureAwait(false);
            if (run is not null)
            {
                Complete(run, status, log, error);
                try
                {
                    // The caller's token may be cancelled already; the outcome must still be recorded.
                    await _sessions.FinishRunAsync(run, log.StoredEvents, null, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is Microsoft.EntityFrameworkCore.DbUpdateException or System.Data.Common.DbException)
                {
                    // The caller still gets the outcome; the run stays Running and is marked Interrupted on the next start.
                    LogFinishNotStored(ex, runId);
                }
            }

            return response;
        }
    }

    /// <summary>The same run as a stream of progress events; the last one is terminal and carries the response.</summary>
    public async IAsyncEnumerable<RunProgress> StreamAsync(RunRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<RunProgress>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var run = Task.Run(async () =>
        {
            try
            {
                await RunAsync(request, p => channel.Writer.WriteAsync(p, CancellationToken.None), cancellationToken).ConfigureAwait(false);
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

    private static async Task<(RunUsage Usage, string? ResponseModel)> StreamAgentAsync(
        AgentLease lease, IReadOnlyList<ChatMessage> messages, int? maxOutput, RunLog log, System.Text.StringBuilder text,
        List<ToolCallProgress> toolCalls, List<ToolResult> toolResults, CancellationToken cancellationToken)
    {
        var options = maxOutput is { } cap
            ? new Microsoft.Agents.AI.ChatClientAgentRunOptions(new ChatOptions { MaxOutputTokens = cap })
            : null;
        var usage = new UsageDetails();
        string? responseModel = null;
        await foreach (var update in lease.Agent.RunStreamingAsync(messages, session: null, options, cancellationToken).ConfigureAwait(false))
        {
            if ((update.RawRepresentation as ChatResponseUpdate)?.ModelId is { Length: > 0 } model)
            {
                responseModel = model;
            }

            foreach (var content in update.Contents)
            {
                switch (content)
                {
                    case TextContent { Text.Length: > 0 } t:
                        log.TimeToFirstToken ??= log.Elapsed;
                        text.Append(t.Text);
                        await log.DeltaAsync(t.Text).ConfigureAwait(false);
                        break;
                    case UsageContent u:
                        usage.Add(u.Details);
                        break;
                    case FunctionCallContent call:
                        var started = new ToolCallProgress(call.CallId, call.Name, Completed: false);
                        toolCalls.Add(started);
                        await log.ToolCallAsync(started).ConfigureAwait(false);
                        break;
                    case FunctionResultContent result:
                        var name = toolCalls.LastOrDefault(c => c.CallId == result.CallId)?.Name ?? "tool";
                        toolResults.Add(new ToolResult(name, result.Result?.ToString() ?? ""));
                        await log.ToolCallAsync(new ToolCallProgress(result.CallId, name, Completed: true)).ConfigureAwait(false);
                        break;
                }
            }
        }

        return (new RunUsage(usage.InputTokenCount ?? 0, usage.CachedInputTokenCount ?? 0, usage.OutputTokenCount ?? 0, usage.ReasoningTokenCount ?? 0), responseModel);
    }

    private async Task<QualityResult?> EvaluateAsync(EvaluationRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await _evaluator.EvaluateAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Evaluation never fails the run: the answer was delivered and stored already.
            LogEvaluationFailed(ex, request.RunId);
            return null;
        }
    }

    private void Complete(RunRecord run, RunStatus status, RunLog log, RunError? error, bool fromCache = false)
    {
        run.Status = status.ToString();
        run.EndedAt = _time.GetUtcNow().UtcDateTime;
        run.DurationMs = log.Elapsed.TotalMilliseconds;
        run.TimeToFirstTokenMs = log.TimeToFirstToken?.TotalMilliseconds;
        run.InputTokens = log.Usage.InputTokens;
        run.CachedInputTokens = log.Usage.CachedInputTokens;
        run.OutputTokens = log.Usage.OutputTokens;
        run.ReasoningTokens = log.Usage.ReasoningTokens;
        run.CostNanoUsd = NanoUsd.FromUsd(log.Cost?.Usd);
        run.FromCache = fromCache;
        run.Error = error?.Message;
        run.ErrorKind = error?.Code;
    }

    private static RunError? Classify(Exception ex) => ex switch
    {
        PresetNotFoundException => new RunError("preset_not_found", ex.Message),
        PresetLoadException => new RunError("preset_invalid", ex.Message),
        ProviderNotConfiguredException => new RunError("provider_not_configured", ex.Message),
        ProviderException p => new RunError("provider_" + System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Kind.ToString()), ex.Message),
        SessionNotFoundException => new RunError("session_not_found", ex.Message),
        ArgumentException => new RunError("invalid_request", ex.Message),
        // Anything else is a defect; the user gets a message without internals, the log gets the exception.
        _ => new RunError(InternalErrorCode, "The run failed unexpectedly. Details are in the application log."),
    };

    private static string Summarize(AgentResponse r) =>
        FormattableString.Invariant($"Done in {r.Duration.TotalSeconds:0.00} s: {r.Usage.InputTokens} input and {r.Usage.OutputTokens} output tokens.");

    private const string InternalErrorCode = "internal_error";

    // Expected failures (provider down, bad key, unknown preset) carry a user-facing message already; a stack trace
    // would only bury it. Unexpected ones are defects and are logged with the exception.
    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Run {RunId} failed ({Code}): {Reason}")]
    private partial void LogRunFailed(Guid runId, string code, string reason);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Error, Message = "Run {RunId} failed unexpectedly.")]
    private partial void LogRunDefect(Exception exception, Guid runId);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Error, Message = "The end of run {RunId} could not be stored.")]
    private partial void LogFinishNotStored(Exception exception, Guid runId);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Evaluation of run {RunId} failed; the answer stands.")]
    private partial void LogEvaluationFailed(Exception exception, Guid runId);
}
