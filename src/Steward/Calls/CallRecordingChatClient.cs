using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Steward.Agents;
using Steward.Budgets;
using Steward.Costs;
using Steward.Providers;
using Steward.Telemetry;

namespace Steward.Calls;

/// <summary>
/// The recording layer of every model call: measures latency and time to first token, takes the usage the provider
/// reports (or counts it with the model's tokenizer when it reports none, marked estimated), prices it, and adds one
/// <see cref="ModelCall"/> to the call's <see cref="ModelCallScope"/>, whose owner stores it with the run (a call made
/// outside any run is metered and budgeted, but has no run to be stored with).
/// It keeps the run's promises about usage: a stream that ends with neither a finish reason nor usage is a failed call
/// (<see cref="ProviderFailureKind.Incomplete"/>), not an answer; output reported beyond the cap that was sent is kept,
/// flagged as an anomaly and logged; and a cancelled or failed call's partial output is counted and priced.
/// </summary>
internal sealed partial class CallRecordingChatClient(
    IChatClient inner, ResolvedProvider provider, IRunPricer pricer, RunTelemetry telemetry, TimeProvider time,
    ILogger<CallRecordingChatClient> logger) : DelegatingChatClient(inner)
{
    private LocalEngineLookup _local;

    private LocalModels.LocalChatClient? Local => _local.Get(InnerClient);

    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (list, call) = Prepare(messages, options);
        return GetResponseAsync(list, call, options, cancellationToken);
    }

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (list, call) = Prepare(messages, options);
        return GetStreamingResponseAsync(list, call, options, gate: null, cancellationToken);
    }

    /// <summary>A call the budget layer above has prepared: <paramref name="options"/> are the caller's, sent with the call's cap.</summary>
    internal async Task<ChatResponse> GetResponseAsync(IReadOnlyList<ChatMessage> list, GovernedCall call, ChatOptions? options, CancellationToken cancellationToken)
    {
        var sent = Sent(call, options);
        var meter = new CallMeter(time);
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(list, sent, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Record(call, meter, ex);
            throw;
        }

        meter.Observe(response);
        Record(call, meter, null);
        return response;
    }

    /// <summary>
    /// A call the budget layer above has prepared: <paramref name="options"/> are the caller's, sent with the call's cap.
    /// <paramref name="gate"/>'s steps run inside this stream, before the call and after it ended (whatever ended it), so
    /// one state machine per call serves both layers instead of a stream wrapping a stream.
    /// </summary>
    internal async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IReadOnlyList<ChatMessage> list, GovernedCall call, ChatOptions? options, IGovernedCallGate? gate, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var held = gate is null ? null : await gate.ReserveAsync(call, cancellationToken).ConfigureAwait(false);
        try
        {
            var sent = Sent(call, options);
            var meter = new CallMeter(time);
            var recorded = false;
            var updates = base.GetStreamingResponseAsync(list, sent, cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                while (true)
                {
                    ChatResponseUpdate update;
                    try
                    {
                        if (!await updates.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }

                        update = updates.Current;
                    }
                    catch (Exception ex)
                    {
                        recorded = true;
                        Record(call, meter, ex);
                        throw;
                    }

                    meter.Observe(update);
                    yield return update;
                }

                recorded = true;
                if (!meter.Finished)
                {
                    var incomplete = new ProviderException(provider.Name, ProviderFailureKind.Incomplete,
                        $"Provider '{provider.Name}' ended its answer early: the stream stopped with no finish reason and no usage (a dropped connection or a " +
                        "crashed server). The partial answer was kept as partial; ask again.");
                    Record(call, meter, incomplete);
                    throw incomplete;
                }

                Record(call, meter, null);
            }
            finally
            {
                // The caller stopped reading (it gave up): what was generated until then was still used.
                if (!recorded)
                {
                    Record(call, meter, new OperationCanceledException());
                }

                await updates.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            if (gate is not null)
            {
                await gate.SettleAsync(call, held!).ConfigureAwait(false);
            }
        }
    }

    private (IReadOnlyList<ChatMessage> Messages, GovernedCall Call) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var call = GovernedCall.From(options) ?? new GovernedCall(ModelCallScope.From(options), provider, options?.MaxOutputTokens, Local, list, options);
        return (list, call);
    }

    /// <summary>The options sent to the provider: the caller's, with the call's cap, without Steward's own entries, with the agent's context for providers that keep it.</summary>
    private ChatOptions Sent(GovernedCall call, ChatOptions? options)
    {
        var context = provider.Info.ReceivesAgentContext && call.Scope is { Purpose: ModelCallPurpose.Agent, Preset: { } preset } scope
            ? new AgentCallContext(preset, scope.SessionId)
            : null;
        return GovernedCall.Attach(options, call: null, call.MaxOutputTokens, context);
    }

    private void Record(GovernedCall call, CallMeter meter, Exception? failure)
    {
        var cancelled = failure is OperationCanceledException;
        var status = failure is null ? ModelCallStatus.Completed : cancelled ? ModelCallStatus.Cancelled : ModelCallStatus.Failed;
        var (usage, estimated) = Usage(call, meter, status);
        var anomaly = call.MaxOutputTokens is { } cap && usage.OutputTokens > cap
            ? FormattableString.Invariant($"The provider reported {usage.OutputTokens:N0} output tokens, more than the cap of {cap:N0} it was sent.")
            : null;
        if (anomaly is not null)
        {
            LogAnomaly(provider.Name, provider.Model, usage.OutputTokens, call.MaxOutputTokens ?? 0);
        }

        var cost = pricer.Price(new PricingRequest(provider, meter.ResponseModel, usage, meter.FromCache));
        var scope = call.Scope;
        var record = new ModelCall
        {
            Id = scope?.FirstCallId(scope.Calls.Count + 1) ?? Storage.RecordIds.NewVersion7(meter.StartedAt),
            RunId = scope?.RunId,
            // The number it will most likely get (calls are numbered in the order they end), so the scope need not copy it.
            Sequence = scope?.Calls.Count + 1 ?? 1,
            Purpose = scope?.Purpose ?? ModelCallPurpose.Agent,
            Provider = provider.Name,
            Model = Telemetry.StewardTelemetry.ModelName(provider.Model)!,
            ResponseModel = meter.ResponseModel,
            StartedAt = meter.StartedAt,
            Duration = meter.Elapsed,
            TimeToFirstToken = meter.TimeToFirstToken,
            Usage = usage,
            UsageEstimated = estimated,
            Cost = cost,
            FromCache = meter.FromCache,
            MaxOutputTokens = call.MaxOutputTokens,
            FinishReason = meter.FinishReason,
            Status = status,
            Error = status == ModelCallStatus.Failed ? failure?.Message : null,
            Anomaly = anomaly,
            TraceId = Activity.Current?.TraceId.ToString(),
            SpanId = Activity.Current?.SpanId.ToString(),
        };
        telemetry.RecordModelCall(record, scope?.Preset?.Name);
        call.Result = scope is not null ? scope.Add(record) : record;
    }

    /// <summary>
    /// The usage to record: what the provider reported, else counted: the prompt (once the provider answered at all) and
    /// the text it generated. A cache hit used nothing.
    /// </summary>
    private (RunUsage Usage, bool Estimated) Usage(GovernedCall call, CallMeter meter, ModelCallStatus status)
    {
        if (meter.FromCache)
        {
            return (RunUsage.Zero, false);
        }

        if (meter.Reported is { } reported && (status == ModelCallStatus.Completed || reported.OutputTokenCount > 0))
        {
            return (new RunUsage(reported.InputTokenCount ?? 0, reported.CachedInputTokenCount ?? 0, reported.OutputTokenCount ?? 0, reported.ReasoningTokenCount ?? 0), false);
        }

        if (!meter.Answered)
        {
            // Refused, unreachable or cancelled before the provider answered: nothing was generated.
            return (RunUsage.Zero, false);
        }

        var local = Local;
        var text = meter.Text;
        var output = text.Length == 0 ? 0 : local?.CountTokens(text) ?? TokenEstimator.CountText(provider, text);
        return (new RunUsage(call.PromptTokens, 0, output, 0), true);
    }

    [LoggerMessage(EventId = 1811, Level = LogLevel.Warning,
        Message = "Provider anomaly: {Provider} ({Model}) reported {OutputTokens} output tokens for a call sent with a cap of {Cap}. The reported usage is recorded and flagged on the run.")]
    private partial void LogAnomaly(string provider, string model, long outputTokens, int cap);

    /// <summary>What one call's response showed, as it streamed.</summary>
    private sealed class CallMeter(TimeProvider time)
    {
        private readonly long _started = time.GetTimestamp();
        // The text is only read when the provider reports no usage: a whole answer (one piece) is kept as it is, and
        // pieces are joined only once there is a second.
        private string? _firstText;
        private StringBuilder? _text;
        private UsageDetails? _usage;
        private bool _ownsUsage;

        public DateTimeOffset StartedAt { get; } = time.GetUtcNow();

        public TimeSpan Elapsed => time.GetElapsedTime(_started);

        public TimeSpan? TimeToFirstToken { get; private set; }

        public string? FinishReason { get; private set; }

        public string? ResponseModel { get; private set; }

        public bool FromCache { get; private set; }

        /// <summary>The provider sent anything at all.</summary>
        public bool Answered { get; private set; }

        public UsageDetails? Reported => _usage;

        public string Text => _text?.ToString() ?? _firstText ?? "";

        /// <summary>The provider said the answer was done: a finish reason, or usage (sent only once it is done).</summary>
        public bool Finished => FinishReason is not null || _usage is not null;

        public void Observe(ChatResponseUpdate update)
        {
            Answered = true;
            FromCache |= CachedResponse.IsHit(update.AdditionalProperties);
            if (update.ModelId is { Length: > 0 } model)
            {
                ResponseModel = model;
            }

            if (update.FinishReason is { } finish)
            {
                FinishReason = finish.Value;
            }

            var contents = update.Contents;
            for (var i = 0; i < contents.Count; i++)
            {
                switch (contents[i])
                {
                    case TextContent { Text.Length: > 0 } text:
                        TimeToFirstToken ??= Elapsed;
                        AppendText(text.Text);
                        break;
                    case TextReasoningContent { Text.Length: > 0 } reasoning:
                        TimeToFirstToken ??= Elapsed;
                        AppendText(reasoning.Text);
                        break;
                    case FunctionCallContent call:
                        TimeToFirstToken ??= Elapsed;
                        AppendText(call.Name);
                        AppendText(System.Text.Json.JsonSerializer.Serialize(call.Arguments));
                        break;
                    case UsageContent usage:
                        AddUsage(usage.Details);
                        break;
                }
            }
        }

        private void AppendText(string text)
        {
            if (_text is null && _firstText is null)
            {
                _firstText = text;
                return;
            }

            (_text ??= new StringBuilder(_firstText)).Append(text);
            _firstText = null;
        }

        // A provider reports usage once, at the end: that report is kept as it is, and only a second one makes a sum of
        // Steward's own (never adding into the provider's object).
        private void AddUsage(UsageDetails details)
        {
            if (_usage is null)
            {
                _usage = details;
                return;
            }

            if (!_ownsUsage)
            {
                var sum = new UsageDetails();
                sum.Add(_usage);
                (_usage, _ownsUsage) = (sum, true);
            }

            _usage.Add(details);
        }

        public void Observe(ChatResponse response)
        {
            Answered = true;
            FromCache |= CachedResponse.IsHit(response.AdditionalProperties);
            ResponseModel = response.ModelId is { Length: > 0 } model ? model : ResponseModel;
            FinishReason = response.FinishReason?.Value;
            _usage = response.Usage;
            AppendText(response.Text);
            TimeToFirstToken ??= Elapsed;
        }
    }
}
