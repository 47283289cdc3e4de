using Steward.Agents;

namespace Steward.Evaluation;

/// <summary>What the runner hands evaluation once the answer is delivered.</summary>
/// <param name="RunId">The run being scored.</param>
/// <param name="Preset">The preset that answered: its evaluators, expected topics, weights and threshold apply.</param>
/// <param name="Query">The user's question.</param>
/// <param name="Answer">The answer as delivered.</param>
public sealed record EvaluationRequest(Guid RunId, AgentPreset Preset, string Query, string Answer)
{
    /// <summary>What the run's tools returned, for citation checks and groundedness.</summary>
    public IReadOnlyList<ToolResult> ToolResults { get; init; } = [];

    /// <summary>The sources the run's tools returned (or the provider cited), which the answer's citations are checked against.</summary>
    public IReadOnlyList<Tools.Citation> Citations { get; init; } = [];

    /// <summary>Per-request expectations (a dataset case's), added to the preset's.</summary>
    public EvaluationHints? Hints { get; init; }

    /// <summary>The run's session, for the session budgets the judge's calls count against.</summary>
    public Guid? SessionId { get; init; }

    /// <summary>The answer was cut off at the output cap (finish reason <c>length</c>): it cannot pass, whatever else it scores.</summary>
    public bool Truncated { get; init; }
}

/// <summary>One tool call's result as the agent saw it.</summary>
public sealed record ToolResult(string Name, string Content);

/// <summary>
/// What a caller (typically a dataset case) expects of one answer, beyond the preset: topics that replace the
/// preset's, a reference answer for the judge, and the batch the run belongs to.
/// </summary>
public sealed record EvaluationHints
{
    /// <summary>Topics the answer should cover; when set they replace the preset's <c>expected_topics</c>.</summary>
    public IReadOnlyList<string>? ExpectedTopics { get; init; }

    /// <summary>A known good answer; the completeness and groundedness judges compare against it.</summary>
    public string? ReferenceAnswer { get; init; }

    /// <summary>The batch this run is part of, so its evaluation can be found with the batch.</summary>
    public Guid? BatchId { get; init; }

    /// <summary>The dataset case's id.</summary>
    public string? CaseId { get; init; }
}

/// <summary>The runner's evaluation seam. Runs after the answer is delivered; a failure never fails the run.</summary>
public interface IRunEvaluator
{
    /// <summary>Scores the answer, or returns <see langword="null"/> when the preset asks for no evaluation.</summary>
    Task<QualityResult?> EvaluateAsync(EvaluationRequest request, CancellationToken cancellationToken);
}
