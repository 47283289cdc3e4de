using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Steward.Storage;
using Steward.Telemetry;
using Steward.Web.Traces;

namespace Steward.Web.Components.Pages;

/// <summary>Recent runs and, for the chosen one, its span waterfall from the embedded trace store; a click shows a span's attributes.</summary>
public sealed partial class Traces
{
    private const int RecentRuns = 50;

    private IReadOnlyList<RecentRun> _runs = [];
    private RunTrace? _trace;
    private IReadOnlyList<WaterfallBar> _bars = [];
    private TraceSpan? _selected;
    private string? _problem;
    private string _shortRunId = "";

    [Parameter] public Guid? RunId { get; set; }

    private Guid? _shownRunId;

    [Inject] private TraceStore Store { get; set; } = default!;

    [Inject] private Steward.Sessions.IdLookup Ids { get; set; } = default!;

    [Inject] private IDbContextFactory<StewardDbContext> Contexts { get; set; } = default!;

    protected override async Task OnInitializedAsync()
    {
        await using var db = await Contexts.CreateDbContextAsync(CancellationToken.None);
        _runs = await db.Runs.AsNoTracking().OrderByDescending(r => r.StartedAt).Take(RecentRuns)
            .Select(r => new RecentRun(r.Id, r.PresetName, r.Status, r.Query, r.StartedAt, r.DurationMs))
            .ToListAsync(CancellationToken.None);
    }

    protected override async Task OnParametersSetAsync()
    {
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
            // A run that just finished may still have spans queued for the store.
            await Store.FlushAsync(CancellationToken.None);
            _trace = await Store.GetRunTraceAsync(id, CancellationToken.None);
            _shortRunId = (await Ids.ShortestUniqueAsync(Steward.Sessions.IdKind.Run, [id], cancellationToken: CancellationToken.None))[id];
            _bars = WaterfallLayout.Layout(_trace);
            _selected = _trace.Spans.Count > 0 ? _trace.Spans[0].Span : null;
        }
        catch (TraceNotFoundException)
        {
            _problem = "No spans were stored for this run: it may predate tracing, have been sampled out, or have expired from the trace store.";
        }
    }

    private void Select(TraceSpan span) => _selected = span;

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..59] + "…";

    private static string FormatValue(object? value) => SpanValueText.Format(value);

    private sealed record RecentRun(Guid Id, string Preset, string Status, string Query, DateTime StartedAtUtc, double? DurationMs)
    {
        public DateTimeOffset StartedAt => Steward.Sessions.SessionStore.Utc(StartedAtUtc);
    }
}
