using Microsoft.Extensions.AI;

namespace Steward.Budgets;

/// <summary>
/// The budget step until the ledger arrives: enforces a preset's <c>max_tokens_per_request</c> with a conservative
/// estimate (a token per 3 characters of prompt, plus the output cap), and reserves nothing across requests.
/// </summary>
internal sealed class RequestTokenBudgetGate : IBudgetGate
{
    // English averages about 4 characters a token on GPT and Llama vocabularies; 3 errs on the side of refusing.
    private const int CharactersPerToken = 3;

    public ValueTask<IBudgetReservation> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        var promptChars = request.Preset.Instructions.Length + request.Prompt.Sum(m => m.Text.Length);
        var estimate = (promptChars + CharactersPerToken - 1) / CharactersPerToken + (request.MaxOutputTokens ?? 0);

        if (request.Preset.Budget.MaxTokensPerRequest is { } limit)
        {
            if (estimate > limit)
            {
                throw new BudgetExceededException($"request (preset '{request.Preset.Name}', max_tokens_per_request)", "tokens", limit, 0, estimate);
            }

            return ValueTask.FromResult<IBudgetReservation>(new Reservation($"Within the request limit: up to {estimate} of {limit} tokens."));
        }

        return ValueTask.FromResult<IBudgetReservation>(new Reservation($"No budget limits apply (estimate {estimate} tokens)."));
    }

    private sealed class Reservation(string decision) : IBudgetReservation
    {
        public string Decision { get; } = decision;

        public ValueTask SettleAsync(Agents.RunUsage usage, Agents.RunCost cost, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask ReleaseAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
