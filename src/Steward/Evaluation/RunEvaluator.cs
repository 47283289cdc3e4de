using Steward.Agents;

namespace Steward.Evaluation;

/// <summary>What the runner hands evaluation once the answer is delivered.</summary>
public sealed record EvaluationRequest(Guid RunId, AgentPreset Preset, string Query, string Answer);

/// <summary>The runner's evaluation seam. Runs after the answer is delivered; a failure never fails the run.</summary>
public interface IRunEvaluator
{
    /// <summary>Scores the answer, or returns <see langword="null"/> when the preset asks for no evaluation.</summary>
    Task<QualityResult?> EvaluateAsync(EvaluationRequest request, CancellationToken cancellationToken);
}

/// <summary>No evaluators configured: nothing is scored, and the progress log says so.</summary>
internal sealed class NoEvaluation : IRunEvaluator
{
    public Task<QualityResult?> EvaluateAsync(EvaluationRequest request, CancellationToken cancellationToken) =>
        Task.FromResult<QualityResult?>(null);
}
