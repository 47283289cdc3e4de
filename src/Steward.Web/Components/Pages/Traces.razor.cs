using System.Globalization;
using Microsoft.AspNetCore.Components;
using Steward.Telemetry;
using Steward.Web.Traces;

namespace Steward.Web.Components.Pages;

/// <summary>Recent runs and, for the chosen one, its span waterfall from the embedded trace store; a click shows a span's attributes.</summary>
public sealed partial class Traces
{
    private const int PageSize = 50;
    private const int SpanStep = 200;

    private Steward.Sessions.RunPage _page = new([], 0);
    private IReadOnlyList<string> _agents = [];
    private string? _shownList;
    private RunTrace? _trace;
    private WaterfallBar[] _bars = [];
    private int _shownSpans = SpanStep;
    private TraceSpan? _selected;
    private string? _problem;
    private string _shortRunId = "";

    [Parameter] public Guid? RunId { get; set; }

    // The filters live in the address, so a filtered list can be shared, reloaded, and kept while runs are opened.
    [SupplyParameterFromQuery(Name = "status")] public string? Status { get; set; }

    [SupplyParameterFromQuery(Name = "agent")] public string? Agent { get; set; }

    [SupplyParameterFromQuery(Name = "q")] public string? Text { get; set; }

    [SupplyParameterFromQuery(Name = "min_ms")] public double? MinMs { get; set; }

    [SupplyParameterFromQuery(Name = "max_ms")] public double? MaxMs { get; set; }

    [SupplyParameterFromQuery(Name = "model")] public string? Model { get; set; }

    /// <summary>First day (yyyy-MM-dd, UTC) of the runs listed.</summary>
    [SupplyParameterFromQuery(Name = "from")] public string? From { get; set; }

    /// <summary>Last day (yyyy-MM-dd, UTC) of the runs listed.</summary>
    [SupplyParameterFromQuery(Name = "until")] public string? Until { get; set; }

    [SupplyParameterFromQuery(Name = "tag")] public string? Tag { get; set; }

    [SupplyParameterFromQuery(Name = "user")] public string? User { get; set; }

    [SupplyParameterFromQuery(Name = "min_usd")] public decimal? MinUsd { get; set; }

    [SupplyParameterFromQuery(Name = "max_usd")] public decimal? MaxUsd { get; set; }

    [SupplyParameterFromQuery(Name = "page")] public int? PageNumber { get; set; }

    private Guid? _shownRunId;

    [Inject] private StoredTraces Store { get; set; } = default!;

    [Inject] private Steward.Sessions.IdLookup Ids { get; set; } = default!;

    [Inject] private Steward.Sessions.RunSearch Runs { get; set; } = default!;

    [Inject] private NavigationManager Navigation { get; set; } = default!;

    private int CurrentPage => Math.Clamp(PageNumber ?? 1, 1, Math.Max(1, PageCount));

    private int PageCount => (_page.Total + PageSize - 1) / PageSize;

    private bool IsFiltered => Query != new Steward.Sessions.RunQuery();

    private Steward.Sessions.RunQuery Query => new()
    {
        Status = Enum.TryParse<Steward.Agents.RunStatus>(Status, ignoreCase: true, out var status) ? status : null,
        Agent = string.IsNullOrWhiteSpace(Agent) ? null : Agent,
        Text = string.IsNullOrWhiteSpace(Text) ? null : Text,
        MinDurationMs = MinMs,
        MaxDurationMs = MaxMs,
        Model = string.IsNullOrWhiteSpace(Model) ? null : Model,
        From = ParseDay(From) is { } from ? new DateTimeOffset(from, TimeSpan.Zero) : null,
        To = ParseDay(Until) is { } until ? new DateTimeOffset(until.AddDays(1), TimeSpan.Zero) : null,
        MinCostUsd = MinUsd,
        Tag = string.IsNullOrWhiteSpace(Tag) ? null : Tag,
        UserId = string.IsNullOrWhiteSpace(User) ? null : User,
        MaxCostUsd = MaxUsd,
    };

    private string RangeText => _page.Total == 0 ? "" : string.Create(CultureInfo.InvariantCulture,
        $"{(CurrentPage - 1) * PageSize + 1:N0}–{Math.Min(CurrentPage * PageSize, _page.Total):N0} of {_page.Total:N0} runs");

    private string QueryString => new Uri(Navigation.Uri).Query;

    private string RunHref(Guid id) => $"traces/{id}{QueryString}";

    private void Filter(string? status = null, string? agent = null, string? text = null, string? minMs = null, string? page = null)
    {
        // Any filter change starts again at the first page; a page change keeps the filters.
        var values = new Dictionary<string, object?>
        {
            ["status"] = status is null ? Status : NullIfEmpty(status),
            ["agent"] = agent is null ? Agent : NullIfEmpty(agent),
            ["q"] = text is null ? Text : NullIfEmpty(text),
            ["min_ms"] = minMs is null ? MinMs?.ToString(CultureInfo.InvariantCulture) : NullIfEmpty(minMs),
            ["page"] = page,
        };
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(values));
    }

    /// <summary>Sets one more filter of the address (empty clears it), back on the first page.</summary>
    private void FilterBy(string name, string? value) =>
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(new Dictionary<string, object?> { [name] = string.IsNullOrEmpty(value) ? null : value, ["page"] = null }));

    private void OnMaxMsChanged(double? ms) => FilterBy("max_ms", ms?.ToString(CultureInfo.InvariantCulture));

    private void OnModelChanged(string? model) => FilterBy("model", model);

    private void OnTagChanged(string? tag) => FilterBy("tag", tag);

    private void OnUserChanged(string? user) => FilterBy("user", user);

    private void OnFromChanged(DateTime? day) => FilterBy("from", day?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

    private void OnUntilChanged(DateTime? day) => FilterBy("until", day?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

    private void OnMinUsdChanged(decimal? usd) => FilterBy("min_usd", usd?.ToString(CultureInfo.InvariantCulture));

    private void OnMaxUsdChanged(decimal? usd) => FilterBy("max_usd", usd?.ToString(CultureInfo.InvariantCulture));

    private static DateTime? ParseDay(string? text) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) ? day.ToDateTime(TimeOnly.MinValue) : null;

    private void OnStatusChanged(string? status) => Filter(status: status ?? "");

    private void OnAgentChanged(string? agent) => Filter(agent: agent ?? "");

    private void OnTextChanged(string? text) => Filter(text: text ?? "");

    private void OnMinMsChanged(double? ms) => Filter(minMs: ms?.ToString(CultureInfo.InvariantCulture) ?? "");

    private void OnPageChanged(int page) => Filter(page: page.ToString(CultureInfo.InvariantCulture));

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private async Task LoadListAsync()
    {
        var key = $"{Status}|{Agent}|{Text}|{MinMs}|{MaxMs}|{Model}|{From}|{Until}|{MinUsd}|{MaxUsd}|{Tag}|{User}|{PageNumber}";
        if (key == _shownList)
        {
            return;
        }

        _shownList = key;
        _agents = await Runs.ListAgentsAsync(CancellationToken.None);
        _page = await Runs.SearchAsync(Query, ((PageNumber ?? 1) - 1) * PageSize, PageSize, CancellationToken.None);
    }

    protected override async Task OnParametersSetAsync()
    {
        await LoadListAsync();

        // Parameters are set again whenever the layout re-renders; only a different run reloads, so the span the
        // user selected stays selected.
        if (_shownRunId == RunId && (_trace is not null || _problem is not null))
        {
            return;
        }

        _shownRunId = RunId;
        _trace = null;
        _bars = [];
        _selected = null;
        _problem = null;
        if (RunId is not { } id)
        {
            return;
        }

        try
        {
            _trace = await Store.GetRunTraceAsync(id, CancellationToken.None);
            _shortRunId = (await Ids.ShortestUniqueAsync(Steward.Sessions.IdKind.Run, [id], cancellationToken: CancellationToken.None))[id];
            _bars = [.. WaterfallLayout.Layout(_trace)];
            _shownSpans = SpanStep;
            _selected = _trace.Spans.Count > 0 ? _trace.Spans[0].Span : null;
        }
        catch (TraceNotFoundException)
        {
            _problem = "No spans were stored for this run: it may predate tracing, have been sampled out, or have expired from the trace store.";
        }
    }

    private void Select(TraceSpan span) => _selected = span;

    private void ShowMoreSpans() => _shownSpans += SpanStep;

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..59] + "…";

    private static string FormatValue(object? value) => SpanValueText.Format(value);

}
