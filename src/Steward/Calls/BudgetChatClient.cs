using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Steward.Agents;
using Steward.Budgets;
using Steward.Costs;
using Steward.Providers;
using Steward.Telemetry;

namespace Steward.Calls;

/// <summary>
/// The budget layer of every model call. Before the call it reserves the call's worst case (its real prompt, tools
/// included, plus the output cap) on every budget that applies to the call's <see cref="ModelCallScope"/>, and sends
/// exactly that cap (it sets <see cref="ChatOptions.MaxOutputTokens"/> when the caller did not); a refusal throws
/// <see cref="BudgetExceededException"/> and nothing reaches the model. After the call it holds what the call used
/// (as the recording layer below measured it: reported, or counted when the provider reported nothing, including a
/// cancelled or failed call's partial output) and leaves it to the scope's owner to commit once the call's record is
/// stored; a call that used nothing is released. Expects <see cref="CallRecordingChatClient"/> beneath it.
/// </summary>
internal sealed partial class BudgetChatClient(
    IChatClient inner, ResolvedProvider provider, IBudgetGate gate, IRunPricer pricer, int defaultMaxOutputTokens, ILogger<BudgetChatClient> logger)
    : DelegatingChatClient(inner), IGovernedCallGate
{
    // Per client, not per call: the pricing closure and the embedded engine behind this pipeline (if it is one) never change.
    private readonly Func<long, long, RunCost> _priceWorstCase = (input, output) => pricer.PriceWorstCase(provider, input, output);
    private LocalEngineLookup _local;

    private LocalModels.LocalChatClient? Local => _local.Get(InnerClient);

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (list, call) = Prepare(messages, options);
        var reservation = await ReserveAsync(call, cancellationToken).ConfigureAwait(false);
        try
        {
            // The recording layer right beneath takes the call as it is: no options copied to carry it down and back out.
            return InnerClient is CallRecordingChatClient recording
                ? await recording.GetResponseAsync(list, call, options, cancellationToken).ConfigureAwait(false)
                : await base.GetResponseAsync(list, GovernedCall.Attach(options, call, call.MaxOutputTokens), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await SettleAsync(call, reservation).ConfigureAwait(false);
        }
    }

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (list, call) = Prepare(messages, options);
        // The recording layer right beneath holds and settles inside its own stream: one state machine per call, not two.
        return InnerClient is CallRecordingChatClient recording
            ? recording.GetStreamingResponseAsync(list, call, options, this, cancellationToken)
            : GovernedStreamAsync(list, call, options, cancellationToken);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> GovernedStreamAsync(
        IReadOnlyList<ChatMessage> list, GovernedCall call, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var reservation = await ReserveAsync(call, cancellationToken).ConfigureAwait(false);
        try
        {
            await foreach (var update in base.GetStreamingResponseAsync(list, GovernedCall.Attach(options, call, call.MaxOutputTokens), cancellationToken)
                               .ConfigureAwait(false))
            {
                yield return update;
            }
        }
        finally
        {
            await SettleAsync(call, reservation).ConfigureAwait(false);
        }
    }

    ValueTask<IBudgetReservation> IGovernedCallGate.ReserveAsync(GovernedCall call, CancellationToken cancellationToken) => ReserveAsync(call, cancellationToken);

    Task IGovernedCallGate.SettleAsync(GovernedCall call, IBudgetReservation reservation) => SettleAsync(call, reservation);

    private (IReadOnlyList<ChatMessage> Messages, GovernedCall Call) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var scope = ModelCallScope.From(options);
        var cap = options?.MaxOutputTokens ?? scope?.DefaultMaxOutputTokens ?? defaultMaxOutputTokens;
        var local = Local;
        var call = new GovernedCall(scope, provider, cap, local, list, options);
        if (local?.ContextLength is { } window)
        {
            // A model with a known window gets the cap that fits it: what is reserved and sent is what can be generated.
            var fitted = ContextWindow.FitCap(call.PromptTokens, cap, window);
            if (fitted != cap)
            {
                call = call.WithCap(fitted);
            }
        }

        return (list, call);
    }

    private async ValueTask<IBudgetReservation> ReserveAsync(GovernedCall call, CancellationToken cancellationToken)
    {
        var scope = call.Scope;
        using var span = StewardTelemetry.ActivitySource.StartActivity(StewardTelemetry.BudgetCheckActivityName);
        var reservation = await gate.ReserveAsync(new BudgetRequest
        {
            Preset = scope?.Preset,
            SessionId = scope?.SessionId,
            NewSession = scope?.NewSession ?? false,
            Judge = scope?.Purpose == ModelCallPurpose.Judge,
            Provider = provider,
            MaxOutputTokens = call.MaxOutputTokens ?? defaultMaxOutputTokens,
            CountPrompt = call.CountPrompt,
            PriceWorstCase = _priceWorstCase,
            Request = scope?.RequestBudget,
            ApiKeyBudgets = scope?.ApiKeyBudgets ?? [],
        }, cancellationToken).ConfigureAwait(false);
        span?.SetTag(StewardTelemetry.BudgetDecisionAttribute, reservation.Decision);
        if (scope?.Reserved is { } reserved)
        {
            try
            {
                await reserved(reservation.Decision).ConfigureAwait(false);
            }
            catch
            {
                await reservation.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }

        return reservation;
    }

    /// <summary>
    /// Holds what the call used, or releases the hold when it used nothing. Runs whatever happened to the call and
    /// whatever the caller's token says: the spend is real once the provider answered.
    /// </summary>
    private async Task SettleAsync(GovernedCall call, IBudgetReservation reservation)
    {
        if (call.Result is not { } result || (result.Usage.TotalTokens == 0 && result.Cost.Usd is null or 0m))
        {
            await reservation.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
            return;
        }

        IReadOnlyList<BudgetAlert> alerts;
        using (StewardTelemetry.ActivitySource.StartActivity(StewardTelemetry.BudgetSettleActivityName))
        {
            alerts = await reservation.SettleAsync(result.Usage, result.Cost, CancellationToken.None).ConfigureAwait(false);
        }

        if (call.Scope is { } scope)
        {
            scope.Enlist(reservation);
            foreach (var alert in alerts)
            {
                scope.AddAlert(alert);
            }

            return;
        }

        // Outside a scope there is no record to wait for.
        await reservation.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        foreach (var alert in alerts)
        {
            LogAlert(alert.Describe());
        }
    }

    [LoggerMessage(EventId = 1801, Level = LogLevel.Warning, Message = "{Alert}")]
    private partial void LogAlert(string alert);
}

/// <summary>Adds the governed-call layers to a chat client pipeline.</summary>
public static class GovernedCallChatClientBuilderExtensions
{
    /// <summary>
    /// Adds the budget layer: every call reserves its worst case on the budgets of its <see cref="ModelCallScope"/> and
    /// is sent with exactly the output cap it reserved. Put <see cref="UseCallRecording"/> right beneath it.
    /// </summary>
    /// <param name="builder">The pipeline.</param>
    /// <param name="provider">The provider and model the pipeline calls.</param>
    public static ChatClientBuilder UseBudgets(this ChatClientBuilder builder, ResolvedProvider provider)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(provider);
        return builder.Use((inner, services) => new BudgetChatClient(inner, provider, services.GetRequiredService<IBudgetGate>(),
            services.GetRequiredService<IRunPricer>(),
            services.GetRequiredService<Microsoft.Extensions.Options.IOptions<BudgetOptions>>().Value.DefaultMaxOutputTokens,
            services.GetRequiredService<ILogger<BudgetChatClient>>()));
    }

    /// <summary>
    /// Adds the recording layer: every call's usage (counted when the provider reports none), cost, latency, finish
    /// reason and outcome become one <see cref="ModelCall"/> in its scope.
    /// </summary>
    public static ChatClientBuilder UseCallRecording(this ChatClientBuilder builder, ResolvedProvider provider)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(provider);
        return builder.Use((inner, services) => new CallRecordingChatClient(inner, provider, services.GetRequiredService<IRunPricer>(),
            services.GetRequiredService<Telemetry.RunTelemetry>(),
            services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ILogger<CallRecordingChatClient>>()));
    }

    private static T GetRequiredService<T>(this IServiceProvider services) where T : notnull =>
        (T?)services.GetService(typeof(T)) ?? throw new InvalidOperationException($"{typeof(T).Name} is not registered: call AddStewardEngine first.");
}
