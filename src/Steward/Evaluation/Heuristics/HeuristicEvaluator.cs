using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;

namespace Steward.Evaluation.Heuristics;

/// <summary>An evaluator that reads only the answer text and the contexts: no model, no I/O, synchronous.</summary>
internal abstract class HeuristicEvaluator : IEvaluator
{
    public abstract IReadOnlyCollection<string> EvaluationMetricNames { get; }

    public ValueTask<EvaluationResult> EvaluateAsync(
        IEnumerable<ChatMessage> messages, ChatResponse modelResponse, ChatConfiguration? chatConfiguration = null,
        IEnumerable<EvaluationContext>? additionalContext = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(modelResponse);
        var contexts = additionalContext?.ToArray() ?? [];
        var expectations = contexts.OfType<AnswerExpectations>().FirstOrDefault();
        var sources = contexts.OfType<ToolSources>().FirstOrDefault();
        return ValueTask.FromResult(new EvaluationResult(Evaluate(AnswerText.Of(modelResponse.Text), expectations, sources)));
    }

    protected abstract IEnumerable<EvaluationMetric> Evaluate(AnswerText answer, AnswerExpectations? expectations, ToolSources? sources);
}
