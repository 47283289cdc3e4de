using Microsoft.Extensions.AI;
using Steward.Agents;
using Steward.Budgets;

namespace Steward.Calls;

/// <summary>Why Steward made a model call; each is budgeted, priced and recorded alike, and reported apart.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<ModelCallPurpose>))]
public enum ModelCallPurpose
{
    /// <summary>An agent's turn, including every call of its tool loop.</summary>
    Agent,

    /// <summary>An LLM-as-judge scoring a delivered answer.</summary>
    Judge,

    /// <summary>A request through the OpenAI-compatible gateway.</summary>
    Gateway,

    /// <summary>A dataset case of a batch evaluation.</summary>
    Eval,
}

/// <summary>
/// Whom the model calls of one unit of work (a run, an evaluation, a gateway request) are made for: the run and session
/// they belong to, the preset whose budgets apply and why they are made. The governed-call layers read it from
/// <see cref="ChatOptions.AdditionalProperties"/> (<see cref="ApplyTo"/>), reserve and settle budgets for it, and add
/// each call's record to it; whoever created the scope stores the records and then calls <see cref="CommitAsync"/>, so
/// budget counters never hold spend that the call records lack. Thread-safe.
/// </summary>
public sealed class ModelCallScope
{
    internal const string OptionsKey = "steward.call_scope";

    /// <summary>
    /// The log category of provider anomalies (a call whose provider reported more output than the cap it was sent), for
    /// a host that says them another way: a run notes each in its progress log too.
    /// </summary>
    public const string AnomalyLogCategory = "Steward.Calls.CallRecordingChatClient";

    private readonly Lock _gate = new();
    // The first uncommitted reservation has a field of its own: most scopes make one call, and need no list.
    private IBudgetReservation? _firstUncommitted;
    private List<IBudgetReservation>? _uncommitted;
    private readonly List<BudgetAlert> _alerts = [];
    private RunUsage _usage = RunUsage.Zero;
    private RunCost? _cost;
    private ModelCall[] _snapshot = [];

    /// <summary>Creates a scope for calls made for <paramref name="purpose"/>.</summary>
    public ModelCallScope(ModelCallPurpose purpose) => Purpose = purpose;

    /// <summary>Why the calls are made.</summary>
    public ModelCallPurpose Purpose { get; }

    /// <summary>The run the calls belong to; <see langword="null"/> for calls outside a run.</summary>
    public Guid? RunId { get; init; }

    /// <summary>The session, for session budgets.</summary>
    public Guid? SessionId { get; init; }

    /// <summary>The preset whose budgets apply (for a judge, the preset of the answer it scores).</summary>
    public AgentPreset? Preset { get; init; }

    /// <summary>The session was created by this run, so nothing can have been spent in it yet.</summary>
    public bool NewSession { get; init; }

    /// <summary>The budgets of the gateway key the calls are made for (a key is a budget scope of its own); empty for none.</summary>
    public IReadOnlyList<BudgetPolicy> ApiKeyBudgets { get; init; } = [];

    /// <summary>
    /// Hears each call's budget decision once it is reserved, before the call is sent (the runner turns the first into
    /// its Running stage). <see langword="null"/> for no one.
    /// </summary>
    public Func<string, ValueTask>? Reserved { get; init; }

    /// <summary>What the scope's calls used and hold against per-request budgets (one request: the whole scope).</summary>
    public RequestBudgetCounter RequestBudget { get; } = new();

    /// <summary>The output cap sent when a call sets none; <see langword="null"/> uses <c>Steward:Budgets:DefaultMaxOutputTokens</c>.</summary>
    public int? DefaultMaxOutputTokens { get; init; }

    /// <summary>The calls made so far, in the order they ended.</summary>
    public IReadOnlyList<ModelCall> Calls => Volatile.Read(ref _snapshot);

    /// <summary>What the calls used in total (cached input inside input, reasoning inside output).</summary>
    public RunUsage TotalUsage => Volatile.Read(ref _usage);

    /// <summary>What the calls cost in total: unpriced when any call is, self-hosted when all are.</summary>
    public RunCost TotalCost => Volatile.Read(ref _cost) ?? new RunCost(0m);

    /// <summary>Returns options that carry this scope to the governed-call layers (a copy; <paramref name="options"/> is not changed).</summary>
    public ChatOptions ApplyTo(ChatOptions? options)
    {
        var copy = options?.Clone() ?? new ChatOptions();
        // Clone copied the properties already: this copy's own to change.
        (copy.AdditionalProperties ??= [])[OptionsKey] = this;
        return copy;
    }

    /// <summary>The scope carried by <paramref name="options"/>, if any.</summary>
    public static ModelCallScope? From(ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(OptionsKey, out var value) ? value as ModelCallScope : null;

    /// <summary>
    /// Moves the budget spend of every call recorded so far into the budget counters. Call it after the call records are
    /// stored (or their storing failed: the model was used either way). Idempotent for calls already committed.
    /// </summary>
    public ValueTask CommitAsync(CancellationToken cancellationToken = default)
    {
        // One at a time, in the order enlisted; synchronously while each commit completes at once (the escrow's do).
        while (TakeUncommitted() is { } next)
        {
            var committing = next.CommitAsync(cancellationToken);
            if (!committing.IsCompletedSuccessfully)
            {
                return CommitRestAsync(committing, cancellationToken);
            }
        }

        return ValueTask.CompletedTask;
    }

    private async ValueTask CommitRestAsync(ValueTask committing, CancellationToken cancellationToken)
    {
        await committing.ConfigureAwait(false);
        await CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private IBudgetReservation? TakeUncommitted()
    {
        lock (_gate)
        {
            if (_firstUncommitted is { } first)
            {
                _firstUncommitted = null;
                return first;
            }

            if (_uncommitted is not { Count: > 0 } rest)
            {
                return null;
            }

            var next = rest[0];
            rest.RemoveAt(0);
            return next;
        }
    }

    /// <summary>
    /// The id of the call numbered <paramref name="sequence"/>, when it is its run's first: the run's own (a judge's calls,
    /// made for a run that has its own calls, have ids of their own), so the call a run keeps on its own row needs no id
    /// of its own there (<see cref="Storage.InlineCall"/>). <see langword="null"/> for every other call.
    /// </summary>
    internal Guid? FirstCallId(int sequence) => sequence == 1 && Purpose != ModelCallPurpose.Judge ? RunId : null;

    /// <summary>Adds a call, numbered in the order calls end (judges' calls run at once). Returns it as numbered.</summary>
    internal ModelCall Add(ModelCall call)
    {
        // Progress events read the totals often (every streamed delta): they are kept as immutable snapshots.
        lock (_gate)
        {
            if (call.Sequence != _snapshot.Length + 1)
            {
                // Another call ended in between: it takes the next number, not the one it was made with, and the id that goes with it.
                var sequence = _snapshot.Length + 1;
                call = call with
                {
                    Sequence = sequence,
                    Id = FirstCallId(sequence) ?? (call.Id == RunId ? Storage.RecordIds.NewVersion7(call.StartedAt) : call.Id),
                };
            }

            _snapshot = [.. _snapshot, call];
            var u = _usage;
            _usage = _snapshot.Length == 1 ? call.Usage : new RunUsage(u.InputTokens + call.Usage.InputTokens, u.CachedInputTokens + call.Usage.CachedInputTokens,
                u.OutputTokens + call.Usage.OutputTokens, u.ReasoningTokens + call.Usage.ReasoningTokens);
            // Kept as a running total like the usage: every progress event of the run carries it.
            _cost = _cost is null ? call.Cost
                : !_cost.IsPriced || !call.Cost.IsPriced ? RunCost.Unpriced
                : new RunCost(_cost.Usd!.Value + call.Cost.Usd!.Value, _cost.SelfHosted && call.Cost.SelfHosted);
            return call;
        }
    }

    /// <summary>Takes the budget alerts the calls raised since last asked (each alert once).</summary>
    public IReadOnlyList<BudgetAlert> TakeAlerts()
    {
        lock (_gate)
        {
            BudgetAlert[] taken = [.. _alerts];
            _alerts.Clear();
            return taken;
        }
    }

    internal void AddAlert(BudgetAlert alert)
    {
        lock (_gate)
        {
            _alerts.Add(alert);
        }
    }

    internal void Enlist(IBudgetReservation reservation)
    {
        lock (_gate)
        {
            // After any still waiting in the list, so that they commit in the order enlisted.
            if (_firstUncommitted is null && _uncommitted is not { Count: > 0 })
            {
                _firstUncommitted = reservation;
            }
            else
            {
                (_uncommitted ??= []).Add(reservation);
            }
        }
    }
}
