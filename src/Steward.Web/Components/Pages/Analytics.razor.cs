using Microsoft.AspNetCore.Components;
using Steward.Analytics;
using Steward.Budgets;
using Steward.Costs;
using Steward.Web.Analytics;
using Steward.Web.Chat;

namespace Steward.Web.Components.Pages;

/// <summary>Cost, tokens, latency and budgets over the runs the filters select; every figure is aggregated by the database.</summary>
public sealed partial class Analytics : IDisposable
{
    private readonly CancellationTokenSource _disposed = new();
    private AnalyticsSnapshot? _snapshot;
    private IReadOnlyList<BudgetStatus> _budgets = [];
    private Steward.Evaluation.FeedbackSummary? _feedback;
    private string? _error;
    private DateTime? _from;
    private DateTime? _to;
    private string? _agent;
    private string? _model;
    private bool _byWeek;
    private ChartMeasure? _measure;

    [Inject] private AnalyticsQueries Queries { get; set; } = default!;

    [Inject] private BudgetStatusReader Budgets { get; set; } = default!;

    [Inject] private Steward.Evaluation.FeedbackStore Feedback { get; set; } = default!;

    private ChartMeasure Measure => _measure ?? (_snapshot is { } s ? AnalyticsCharts.DefaultMeasure(s.Costs) : ChartMeasure.Cost);

    private ChartSet CostOverTime => _snapshot is { } s ? AnalyticsCharts.OverTime(_byWeek ? s.Costs.ByWeek : s.Costs.ByDay, Measure, _byWeek, s.Costs.JudgesByDay) : ChartSet.Empty;

    private ChartSet TokenBreakdown => _snapshot is { } s ? AnalyticsCharts.TokenBreakdown(s.Costs.Totals.Tokens) : ChartSet.Empty;

    private ChartSet ByAgent => _snapshot is { } s ? AnalyticsCharts.ByGroup(s.Costs.ByAgent.Select(a => (a.Agent, a.Summary)).ToArray(), Measure) : ChartSet.Empty;

    private ChartSet ByModel => _snapshot is { } s ? AnalyticsCharts.ByGroup(s.Costs.ByModel.Select(m => (MetricFormat.ModelName(m.Model), m.Summary)).ToArray(), Measure) : ChartSet.Empty;

    private ChartSet QualityTrend => _snapshot is { } s ? AnalyticsCharts.QualityTrend(s.Quality) : ChartSet.Empty;

    protected override Task OnInitializedAsync() => LoadAsync();

    private CostFilter CurrentFilter => new()
    {
        // The picked days are days of the configured time zone, as the report's are.
        From = _from is { } f ? StartOfDay(f) : null,
        To = _to is { } t ? StartOfDay(t.AddDays(1)) : null,
        Agent = _agent,
        Model = _model,
    };

    private DateTimeOffset StartOfDay(DateTime day)
    {
        var midnight = DateTime.SpecifyKind(day.Date, DateTimeKind.Unspecified);
        return new DateTimeOffset(midnight, Queries.TimeZone.GetUtcOffset(midnight));
    }

    private async Task LoadAsync()
    {
        try
        {
            _error = null;
            _snapshot = await Queries.GetAsync(CurrentFilter, _disposed.Token);
            _budgets = await Budgets.ReadAsync(_disposed.Token);
            _feedback = await Feedback.SummarizeAsync(CurrentFilter, _disposed.Token);
        }
        catch (System.Data.Common.DbException)
        {
            _error = "The figures could not be read from the database. Try again in a moment.";
        }
    }

    private Task OnFromChangedAsync(DateTime? value)
    {
        _from = value;
        return LoadAsync();
    }

    private Task OnToChangedAsync(DateTime? value)
    {
        _to = value;
        return LoadAsync();
    }

    private Task OnAgentChangedAsync(string? value)
    {
        _agent = value;
        return LoadAsync();
    }

    private Task OnModelChangedAsync(string? value)
    {
        _model = value;
        return LoadAsync();
    }

    private void OnGroupingChanged(bool byWeek) => _byWeek = byWeek;

    private void OnMeasureChanged(ChartMeasure measure) => _measure = measure;

    private static string Limit(Steward.Budgets.BudgetPolicy policy) => string.Join(" / ", new[]
    {
        policy.MaxTokens is { } t ? MetricFormat.Tokens(t) + " tokens" : null,
        policy.MaxUsd is { } u ? MetricFormat.Usd(u) : null,
    }.Where(s => s is not null));

    private static string Spent(BudgetStatus gauge) => $"{MetricFormat.Tokens(gauge.SpentTokens)} tokens · {MetricFormat.Usd(gauge.SpentUsd)}";

    private static string Reserved(BudgetStatus gauge) => $"{MetricFormat.Tokens(gauge.ReservedTokens)} tokens · {MetricFormat.Usd(gauge.ReservedUsd)}";

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
    }
}
