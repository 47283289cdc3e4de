namespace Steward.Evaluation.Judges;

/// <summary>What one judge metric asks the judge model, and the 1–5 scale it scores on.</summary>
/// <param name="Name">The metric's name (also the evaluator's name).</param>
/// <param name="Criterion">The quality judged, in a sentence.</param>
/// <param name="Scale">What each score from 1 to 5 means.</param>
/// <param name="NeedsSources">Judged only against tool results or a reference answer; inconclusive without them.</param>
internal sealed record JudgeRubric(string Name, string Criterion, IReadOnlyList<string> Scale, bool NeedsSources = false)
{
    public static JudgeRubric Relevance { get; } = new("relevance",
        "How well the answer addresses the question that was asked, staying on topic.",
        [
            "1: does not address the question at all, or answers a different one.",
            "2: touches the topic but misses the actual question.",
            "3: addresses the question partly, with notable digressions or gaps.",
            "4: addresses the question well with minor digressions.",
            "5: addresses exactly what was asked, nothing off topic.",
        ]);

    public static JudgeRubric Coherence { get; } = new("coherence",
        "How clear, logically ordered and internally consistent the answer is.",
        [
            "1: incoherent or self-contradictory.",
            "2: hard to follow; ideas jump or contradict each other.",
            "3: understandable but disorganized in places.",
            "4: clear and logical with minor rough spots.",
            "5: clear, well organized and consistent throughout.",
        ]);

    public static JudgeRubric Groundedness { get; } = new("groundedness",
        "How far every factual claim in the answer is supported by the SOURCES given (tool results or the reference answer). Claims the sources do not support count against it, even if true.",
        [
            "1: mostly unsupported or contradicts the sources.",
            "2: several important claims are unsupported.",
            "3: about half the claims are supported.",
            "4: nearly all claims are supported; minor unsupported details.",
            "5: every claim is supported by the sources.",
        ], NeedsSources: true);

    public static JudgeRubric Completeness { get; } = new("completeness",
        "How fully the answer covers what a complete answer to the question needs (and what the REFERENCE ANSWER covers, when given).",
        [
            "1: misses nearly everything needed.",
            "2: covers a small part of what is needed.",
            "3: covers the main point but misses several important parts.",
            "4: covers nearly everything; one minor part missing.",
            "5: complete; nothing important is missing.",
        ]);

    public static IReadOnlyList<JudgeRubric> All { get; } = [Relevance, Coherence, Groundedness, Completeness];
}
