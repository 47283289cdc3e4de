using Steward.Providers;

namespace Steward.Evaluation.Judges;

/// <summary>
/// Checks a judge (<c>provider</c> or <c>provider:model</c>, as <c>Steward:Evaluation:Judge</c> names it) before anything is spent
/// on answers it would score. Registered by <c>AddSteward</c>; thread-safe.
/// </summary>
public sealed class JudgeCheck
{
    private readonly JudgeClients _clients;

    internal JudgeCheck(JudgeClients clients) => _clients = clients;

    /// <summary>Throws when the judge cannot be used; builds (and keeps) its client when it can.</summary>
    /// <exception cref="ArgumentException">The judge is empty.</exception>
    /// <exception cref="ProviderNotConfiguredException">The judge's provider is not configured; the message says what to set.</exception>
    public void EnsureUsable(string judge)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(judge);
        _ = _clients.Get(judge);
    }
}
