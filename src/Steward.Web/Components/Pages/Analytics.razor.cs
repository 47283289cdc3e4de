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
    private IReadOnlyList<string> _presetNames = [];
    private bool _canEditBudgets;
    private string? _error;
    private string? _loaded;

    // Every filter lives in the address, so a view can be bookmarked, shared and reloaded as it is.
    [SupplyParameterFromQuery(Name = "from")] public string? FromQuery { get; set; }

    [SupplyParameterFromQuery(Name = "until")] public string? UntilQuery { get; set; }

    [SupplyParameterFromQuery(Name = "agent")] public string? AgentQuery { get; set; }

    [SupplyParameterFromQuery(Name = "model")] public string? ModelQuery { get; set; }

    [SupplyParameterFromQuery(Name = "user")] public string? UserQuery { get; set; }

    [SupplyParameterFromQuery(Name = "tag")] public string? TagQuery { get; set; }

    [SupplyParameterFromQuery(Name = "by")] public string? GroupQuery { get; set; }

    [SupplyParameterFromQuery(Name = "measure")] public string? MeasureQuery { get; set; }

    [Inject] private NavigationManager Navigation { get; set; } = default!;

    private DateTime? SelectedFrom => ParseDay(FromQuery);

    private DateTime? SelectedTo => ParseDay(UntilQuery);

    private string? SelectedAgent => string.IsNullOrEmpty(AgentQuery) ? null : AgentQuery;

    private string? SelectedModel => string.IsNullOrEmpty(ModelQuery) ? null : ModelQuery;

    private string? SelectedUser => string.IsNullOrWhiteSpace(UserQuery) ? null : UserQuery.Trim();

    private string? SelectedTag => string.IsNullOrWhiteSpace(TagQuery) ? null : TagQuery.Trim();

    private bool ByWeek => string.Equals(GroupQuery, "week", StringComparison.OrdinalIgnoreCase);

    private ChartMeasure? SelectedMeasure => Enum.TryParse<ChartMeasure>(MeasureQuery, ignoreCase: true, out var m) ? m : null;

    [Inject] private AnalyticsQueries Queries { get; set; } = default!;

    [Inject] private BudgetStatusReader Budgets { get; set; } = default!;

    [Inject] private Steward.Agents.PresetCatalog PresetCatalog { get; set; } = default!;

    [Inject] private Steward.Web.SignIn.StewardAccess Access { get; set; } = default!;

    private Steward.Evaluation.FeedbackSummary? RunFeedback => _snapshot?.Feedback;

    private RunOutcomeReport? Outcomes => _snapshot?.Outcomes;

    private TimeToFirstTokenPercentiles? FirstToken => _snapshot?.FirstToken;

    private IReadOnlyList<GroupUsage> UserUsage => _snapshot?.ByUser ?? [];

    private IReadOnlyList<GroupUsage> TagUsage => _snapshot?.ByTag ?? [];

    private ChartMeasure Measure => SelectedMeasure ?? (_snapshot is { } s ? AnalyticsCharts.DefaultMeasure(s.Costs) : ChartMeasure.Cost);

    private ChartSet CostOverTime => _snapshot is { } s ? AnalyticsCharts.OverTime(ByWeek ? s.Costs.ByWeek : s.Costs.ByDay, Measure, ByWeek, s.Costs.JudgesByDay) : ChartSet.Empty;

    private ChartSet TokenBreakdown => _snapshot is { } s ? AnalyticsCharts.TokenBreakdown(s.Costs.Totals.Tokens) : ChartSet.Empty;

    private ChartSet ByAgent => _snapshot is { } s ? AnalyticsCharts.ByGroup(s.Costs.ByAgent.Select(a => (a.Agent, a.Summary)).ToArray(), Measure) : ChartSet.Empty;

    private ChartSet ByModel => _snapshot is { } s ? AnalyticsCharts.ByGroup(s.Costs.ByModel.Select(m => (MetricFormat.ModelName(m.Model), m.Summary)).ToArray(), Measure) : ChartSet.Empty;

    private ChartSet QualityTrend => _snapshot is { } s ? AnalyticsCharts.QualityTrend(s.Quality) : ChartSet.Empty;

    protected override async Task OnParametersSetAsync()
    {
        // The layout re-renders set parameters again; only a different filter reads the figures again.
        var key = $"{FromQuery}|{UntilQuery}|{AgentQuery}|{ModelQuery}|{SelectedUser}|{SelectedTag}";
        if (key != _loaded)
        {
            _canEditBudgets = await Access.AllowsAsync(Steward.Web.Hosting.StewardPolicies.Admin);
            _loaded = key;
            await LoadAsync();
        }
    }

    private static DateTime? ParseDay(string? text) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var day)
            ? day.ToDateTime(TimeOnly.MinValue) : null;

    private static string? Day(DateTime? day) => day?.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    private void Navigate(string name, string? value) =>
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameter(name, string.IsNullOrEmpty(value) ? null : value));

    private CostFilter CurrentFilter => new()
    {
        // The picked days are days of the configured time zone, as the report's are.
        From = SelectedFrom is { } f ? StartOfDay(f) : null,
        To = SelectedTo is { } t ? StartOfDay(t.AddDays(1)) : null,
        Agent = SelectedAgent,
        Model = SelectedModel,
        UserId = SelectedUser,
        Tag = SelectedTag,
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
            // Every card of the filter from one read model (the one the bench times), its queries side by side.
            _snapshot = await Queries.GetAsync(CurrentFilter, _disposed.Token);
            _budgets = await Budgets.ReadAsync(_disposed.Token);
            _presetNames = PresetCatalog.List().Select(p => p.Name).ToArray();
        }
        catch (System.Data.Common.DbException)
        {
            _error = "The figures could not be read from the database. Try again in a moment.";
        }
    }

    private void OnFromChanged(DateTime? value) => Navigate("from", Day(value));

    private void OnToChanged(DateTime? value) => Navigate("until", Day(value));

    private void OnAgentChanged(string? value) => Navigate("agent", value);

    private void OnModelChanged(string? value) => Navigate("model", value);

    private void OnUserChanged(string? value) => Navigate("user", value?.Trim());

    private void OnTagChanged(string? value) => Navigate("tag", value?.Trim());

    private void OnGroupingChanged(bool byWeek) => Navigate("by", byWeek ? "week" : null);

    private void OnMeasureChanged(ChartMeasure measure) => Navigate("measure", measure.ToString().ToLowerInvariant());

    // Percentiles of many runs come from the latency histogram (within 2.2 %): marked, so they are not taken for a run's own time.
    private static string Percentile(double? milliseconds, bool exact) =>
        (exact || milliseconds is null ? "" : "≈ ") + MetricFormat.Milliseconds(milliseconds);

    private static string Percent(double share) => (share * 100).ToString(share is > 0 and < 0.1 ? "0.#" : "0", System.Globalization.CultureInfo.InvariantCulture) + "%";

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
    }
}
