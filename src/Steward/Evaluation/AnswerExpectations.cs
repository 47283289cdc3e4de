using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;

namespace Steward.Evaluation;

/// <summary>
/// What the preset (and a dataset case) expect of an answer, handed to every evaluator as an
/// <see cref="EvaluationContext"/>. Custom evaluators can read it the same way the built-in ones do.
/// </summary>
public sealed class AnswerExpectations : EvaluationContext
{
    /// <summary>The context's name among an evaluation's contexts.</summary>
    public const string ContextName = "Steward answer expectations";

    public AnswerExpectations(
        IReadOnlyList<string> expectedTopics, IReadOnlyDictionary<string, IReadOnlyList<string>> topicSynonyms,
        StructureExpectations structure, string? referenceAnswer)
        : base(ContextName, Describe(expectedTopics, referenceAnswer))
    {
        ExpectedTopics = expectedTopics;
        TopicSynonyms = topicSynonyms;
        Structure = structure;
        ReferenceAnswer = referenceAnswer;
    }

    /// <summary>Topics a good answer covers.</summary>
    public IReadOnlyList<string> ExpectedTopics { get; }

    /// <summary>Other words or phrases that count as covering a topic, by topic.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> TopicSynonyms { get; }

    /// <summary>How the answer should be laid out.</summary>
    public StructureExpectations Structure { get; }

    /// <summary>A known good answer, when there is one.</summary>
    public string? ReferenceAnswer { get; }

    private static AIContent[] Describe(IReadOnlyList<string> topics, string? reference) =>
        reference is null
            ? [new TextContent("Expected topics: " + string.Join(", ", topics))]
            : [new TextContent("Expected topics: " + string.Join(", ", topics)), new TextContent("Reference answer: " + reference)];
}

/// <summary>The sources the agent's tools returned, for citation checks and groundedness.</summary>
public sealed class ToolSources : EvaluationContext
{
    /// <summary>The context's name among an evaluation's contexts.</summary>
    public const string ContextName = "Steward tool sources";

    public ToolSources(IReadOnlyList<ToolResult> results, IReadOnlyList<Tools.Citation>? citations = null)
        : base(ContextName, results.Select(r => (AIContent)new TextContent($"[{r.Name}] {r.Content}")).ToArray())
    {
        Results = results;
        Citations = citations ?? [];
    }

    /// <summary>Each tool call's result, in order.</summary>
    public IReadOnlyList<ToolResult> Results { get; }

    /// <summary>The numbered sources the run's tools returned or the provider cited.</summary>
    public IReadOnlyList<Tools.Citation> Citations { get; }

    /// <summary>Whether a search ran (a search-like tool, or sources were found), so citations can be checked against what it returned.</summary>
    public bool SearchRan => Citations.Count > 0 || Results.Any(r => r.Name.Contains("search", StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// How a preset wants answers laid out (its <c>structure:</c> block). Every expectation is optional; with none,
/// only paragraph length and "long answers have some structure" are checked.
/// </summary>
public sealed record StructureExpectations
{
    /// <summary>Nothing asked for.</summary>
    public static StructureExpectations Default { get; } = new();

    /// <summary>Whether headings are required (<see langword="false"/>: must have none; <see langword="null"/>: either).</summary>
    public bool? Headings { get; init; }

    /// <summary>Least number of sections (headings).</summary>
    public int? MinSections { get; init; }

    /// <summary>Whether a bulleted or numbered list is required.</summary>
    public bool? Lists { get; init; }

    /// <summary>Longest paragraph, in words. Default 120.</summary>
    public int MaxParagraphWords { get; init; } = 120;

    /// <summary>Fewest words in the answer.</summary>
    public int? MinWords { get; init; }

    /// <summary>Most words in the answer.</summary>
    public int? MaxWords { get; init; }
}
