using System.Globalization;
using Microsoft.AspNetCore.Components;
using Steward.Evaluation.Batches;

namespace Steward.Web.Evaluations;

/// <summary>
/// The stored evaluation batches with their scores, and two of them side by side case by case (<c>?a=</c> and
/// <c>?b=</c> batch ids in the address), each score change highlighted.
/// </summary>
public sealed partial class EvaluationsPage
{
    private const int MaxBatches = 100;

    private IReadOnlyList<EvaluationBatchSummary>? _batches;
    private BatchComparison? _comparison;
    private string? _problem;
    private string? _shown;

    [SupplyParameterFromQuery(Name = "a")] public Guid? A { get; set; }

    [SupplyParameterFromQuery(Name = "b")] public Guid? B { get; set; }

    [Inject] private EvaluationBatchRunner Batches { get; set; } = default!;

    [Inject] private NavigationManager Navigation { get; set; } = default!;

    protected override async Task OnParametersSetAsync()
    {
        _batches ??= await Batches.ListAsync(MaxBatches, CancellationToken.None);
        var key = $"{A}|{B}";
        if (key == _shown)
        {
            return;
        }

        _shown = key;
        _comparison = null;
        _problem = null;
        if (A is not { } a || B is not { } b)
        {
            return;
        }

        var first = await Batches.LoadAsync(a, CancellationToken.None);
        var second = await Batches.LoadAsync(b, CancellationToken.None);
        if (first is null || second is null)
        {
            _problem = $"No stored batch has the id {(first is null ? a : b)}; pick one from the list.";
            return;
        }

        _comparison = BatchComparison.Of(first, second);
    }

    private void Pick(string side, Guid batch) => Navigation.NavigateTo(Navigation.GetUriWithQueryParameter(side, batch));

    private static string Started(EvaluationBatchSummary b) => b.StartedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    private static string Score(double? score) => score is { } s ? Chat.MetricFormat.Quality(s) : "—";

    private static string Signed(double delta) => (delta > 0 ? "+" : "") + delta.ToString("0.#", CultureInfo.InvariantCulture);

    private static string? DeltaClass(CaseChange change) => change switch
    {
        CaseChange.Better => "delta-better",
        CaseChange.Worse => "delta-worse",
        _ => null,
    };
}
