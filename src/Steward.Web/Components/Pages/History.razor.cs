using Steward.Web.Hosting;
using Steward.Web.SignIn;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using MudBlazor;
using Steward.Sessions;
using Steward.Web.History;

namespace Steward.Web.Components.Pages;

/// <summary>Stored sessions: search, filter, page; open, continue, export, import and delete.</summary>
public sealed partial class History
{
    // An export is a few messages and runs; a file past this is not one, and reading it whole would cost memory.
    private const long MaxImportBytes = 20 * 1024 * 1024;


    private MudTable<SessionRow>? _table;

    /// <summary>More sessions match than the pager's total (the count stops a little past the page): it says "1,025+".</summary>
    private bool _totalIsLowerBound;

    private string PagerInfo => _totalIsLowerBound ? "{first_item}-{last_item} of {all_items}+" : "{first_item}-{last_item} of {all_items}";
    private IReadOnlyList<string> _agents = [];
    private string? _text;
    private string? _agent;
    private DateTime? _from;
    private DateTime? _to;
    private decimal? _minCost;
    private decimal? _maxCost;
    private double? _minQuality;
    private string? _tag;
    private string? _user;
    private bool _includeEvaluation;
    private string? _error;
    private string? _importMessage;
    private bool _importFailed;
    private bool _importAsCopy;

    [Inject] private SessionSearch Search { get; set; } = default!;

    [Inject] private StoredSessions Sessions { get; set; } = default!;

    [Inject] private IDialogService Dialogs { get; set; } = default!;

    [Inject] private ISnackbar Snackbar { get; set; } = default!;

    [Inject] private StewardAccess Access { get; set; } = default!;

    // What this user's role allows: the buttons it does not are disabled with the reason in their tooltip.
    private bool _canDelete;
    private bool _canImport;
    private bool _canExport;

    protected override async Task OnInitializedAsync()
    {
        _canDelete = await Access.AllowsAsync(StewardPolicies.Admin);
        _canImport = _canDelete;
        _canExport = await Access.AllowsAsync(StewardPolicies.Operator);
        _agents = await Search.ListAgentsAsync(CancellationToken.None);
    }

    private SessionFilter CurrentFilter => new()
    {
        Text = _text,
        Agent = _agent,
        From = _from is { } f ? new DateTimeOffset(DateTime.SpecifyKind(f.Date, DateTimeKind.Local)) : null,
        // "Until" a day includes that whole day.
        To = _to is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t.Date.AddDays(1), DateTimeKind.Local)) : null,
        MinCostUsd = _minCost,
        MaxCostUsd = _maxCost,
        MinQuality = _minQuality,
        Tag = _tag,
        UserId = _user,
        IncludeEvaluation = _includeEvaluation,
    };

    private Task OnIncludeEvaluationChangedAsync(bool value)
    {
        _includeEvaluation = value;
        return ReloadAsync();
    }

    /// <summary>The run export of the sessions the current filter lists (their text, agent, activity, cost and quality).</summary>
    private string RunsExportUrl(string format)
    {
        var filter = CurrentFilter;
        var query = new List<string> { "format=" + format };
        void Add(string name, string? value)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                query.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }

        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        Add("agent", filter.Agent);
        Add("text", filter.Text);
        Add("activeFrom", filter.From?.ToString("O", invariant));
        Add("activeTo", filter.To?.ToString("O", invariant));
        Add("minCost", filter.MinCostUsd?.ToString(invariant));
        Add("maxCost", filter.MaxCostUsd?.ToString(invariant));
        Add("minQuality", filter.MinQuality?.ToString(invariant));
        Add("includeEvaluation", filter.IncludeEvaluation ? "true" : null);
        return "api/runs/export?" + string.Join('&', query);
    }

    private async Task<TableData<SessionRow>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        try
        {
            _error = null;
            var page = await Search.SearchAsync(CurrentFilter, state.Page * state.PageSize, state.PageSize, cancellationToken);
            _totalIsLowerBound = page.TotalIsLowerBound;
            return new TableData<SessionRow> { Items = page.Rows, TotalItems = page.Total };
        }
        catch (System.Data.Common.DbException)
        {
            _error = "The sessions could not be read from the database. Try again in a moment.";
            return new TableData<SessionRow> { Items = [], TotalItems = 0 };
        }
    }

    private Task ReloadAsync() => _table?.ReloadServerData() ?? Task.CompletedTask;

    private Task OnTextChangedAsync(string? value)
    {
        _text = value;
        return ReloadAsync();
    }

    private Task OnAgentChangedAsync(string? value)
    {
        _agent = value;
        return ReloadAsync();
    }

    private Task OnFromChangedAsync(DateTime? value)
    {
        _from = value;
        return ReloadAsync();
    }

    private Task OnToChangedAsync(DateTime? value)
    {
        _to = value;
        return ReloadAsync();
    }

    private Task OnMinCostChangedAsync(decimal? value)
    {
        _minCost = value;
        return ReloadAsync();
    }

    private Task OnMaxCostChangedAsync(decimal? value)
    {
        _maxCost = value;
        return ReloadAsync();
    }

    private Task OnTagChangedAsync(string? value)
    {
        _tag = value;
        return ReloadAsync();
    }

    private Task OnUserChangedAsync(string? value)
    {
        _user = value;
        return ReloadAsync();
    }

    private Task OnMinQualityChangedAsync(double? value)
    {
        _minQuality = value;
        return ReloadAsync();
    }

    private async Task DeleteAsync(SessionRow row)
    {
        await Access.DemandAsync(StewardPolicies.Admin);
        var confirmed = await Dialogs.ShowMessageBoxAsync(
            "Delete session?", $"“{row.Title}” and its {row.Runs} run(s) will be deleted for good. Export it first if you may need it.",
            yesText: "Delete", cancelText: "Cancel");
        if (confirmed != true)
        {
            return;
        }

        try
        {
            await Sessions.DeleteAsync(row.Id, CancellationToken.None);
            Snackbar.Add($"Deleted “{row.Title}”.", Severity.Success);
        }
        catch (SessionNotFoundException)
        {
            Snackbar.Add("That session was already deleted.", Severity.Info);
        }

        await ReloadAsync();
    }

    private async Task ImportAsync(InputFileChangeEventArgs e)
    {
        _importFailed = false;
        if (!await Access.AllowsAsync(StewardPolicies.Admin))
        {
            _importFailed = true;
            _importMessage = "Import failed: " + StewardAccess.Why(StewardPolicies.Admin);
            return;
        }

        try
        {
            await using var stream = e.File.OpenReadStream(MaxImportBytes);
            var id = await Sessions.ImportAsync(stream, _importAsCopy, CancellationToken.None);
            _importMessage = _importAsCopy ? $"Imported as a copy: session {id}, with new ids for the session and its runs." : $"Imported session {id}.";
            _agents = await Search.ListAgentsAsync(CancellationToken.None);
            await ReloadAsync();
        }
        catch (SessionImportException ex)
        {
            _importFailed = true;
            _importMessage = "Import failed: " + ex.Message + (ex.CanImportAsCopy ? " Tick “Import as a copy” to import it with new ids." : "");
        }
        catch (IOException)
        {
            _importFailed = true;
            _importMessage = $"Import failed: the file could not be read (the limit is {MaxImportBytes / (1024 * 1024)} MB).";
        }
    }
}
