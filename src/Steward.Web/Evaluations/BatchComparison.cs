using Steward.Evaluation.Batches;

namespace Steward.Web.Evaluations;

/// <summary>How a case's score moved from batch A to batch B.</summary>
internal enum CaseChange
{
    Same,
    Better,
    Worse,

    /// <summary>The case is in one of the batches only.</summary>
    OnlyInOne,
}

/// <summary>One case of two batches side by side.</summary>
internal sealed record CaseRow(string Id, string Question, double? A, double? B)
{
    public double? Delta => A is { } a && B is { } b ? Math.Round(b - a, 2) : null;

    public CaseChange Change => Delta switch
    {
        null => CaseChange.OnlyInOne,
        > 0 => CaseChange.Better,
        < 0 => CaseChange.Worse,
        _ => CaseChange.Same,
    };
}

/// <summary>Two batches' reports matched case by case (by case id), the biggest changes first.</summary>
internal sealed record BatchComparison(EvaluationBatchReport A, EvaluationBatchReport B, IReadOnlyList<CaseRow> Rows)
{
    public double MeanDelta => Math.Round(B.Totals.MeanScore - A.Totals.MeanScore, 2);

    public int Better => Rows.Count(r => r.Change == CaseChange.Better);

    public int Worse => Rows.Count(r => r.Change == CaseChange.Worse);

    public int Same => Rows.Count(r => r.Change == CaseChange.Same);

    public int OnlyInOne => Rows.Count(r => r.Change == CaseChange.OnlyInOne);

    public static BatchComparison Of(EvaluationBatchReport a, EvaluationBatchReport b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        // A dataset may repeat an id; the first case with it stands for it, as the CLI's baseline comparison does.
        var first = a.Cases.GroupBy(c => c.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var second = b.Cases.GroupBy(c => c.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var rows = first.Keys.Union(second.Keys, StringComparer.Ordinal)
            .Select(id => new CaseRow(id, (first.GetValueOrDefault(id) ?? second[id]).Question, first.GetValueOrDefault(id)?.Score, second.GetValueOrDefault(id)?.Score))
            .OrderByDescending(r => r.Delta is { } d ? Math.Abs(d) : -1).ThenBy(r => r.Id, StringComparer.Ordinal)
            .ToArray();
        return new BatchComparison(a, b, rows);
    }
}
