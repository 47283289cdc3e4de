using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Steward.Agents;
using Steward.Providers;

namespace Steward.Evaluation.Judges;

/// <summary>
/// Adds up what the judge model uses across the calls of one evaluation (several judges run at once), so the judge's
/// tokens and cost are recorded apart from the answer's. With the response cache on, a verdict served from the cache
/// reports the original usage; it was not paid for again, so it counts nothing. Thread-safe.
/// </summary>
internal sealed class MeteredChatClient(IChatClient inner, bool responseCacheEnabled) : DelegatingChatClient(inner)
{
    private readonly Lock _gate = new();
    private readonly UsageDetails _usage = new();

    /// <summary>The model id the provider last reported, for pricing.</summary>
    public string? ResponseModel { get; private set; }

    public RunUsage Usage
    {
        get
        {
            lock (_gate)
            {
                return new RunUsage(_usage.InputTokenCount ?? 0, _usage.CachedInputTokenCount ?? 0, _usage.OutputTokenCount ?? 0, _usage.ReasoningTokenCount ?? 0);
            }
        }
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        // Each judge call runs in its own async flow, so the probe sees only this call's cache miss.
        using var probe = ResponseCacheProbe.Begin();
        var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        Record(responseCacheEnabled && !probe.ProviderCalled ? null : response.Usage, response.ModelId);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Judges ask for whole verdicts; streaming is metered for completeness, without the cache check.
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            foreach (var usage in update.Contents.OfType<UsageContent>())
            {
                Record(usage.Details, update.ModelId);
            }

            yield return update;
        }
    }

    private void Record(UsageDetails? usage, string? model)
    {
        lock (_gate)
        {
            if (usage is not null)
            {
                _usage.Add(usage);
            }

            if (model is { Length: > 0 })
            {
                ResponseModel = model;
            }
        }
    }
}
