using System.Globalization;
using Microsoft.AspNetCore.Components;
using Steward.Agents;
using Steward.Sessions;
using Steward.Web.Chat;

namespace Steward.Web.Components.Pages;

/// <summary>The presets on disk with their details, and the registry's live agents with their usage.</summary>
public sealed partial class Agents
{
    private IReadOnlyList<AgentPreset> _presets = [];
    private IReadOnlyList<PresetProblem> _problems = [];
    private IReadOnlyList<AgentInstanceInfo> _instances = [];
    private IReadOnlyDictionary<string, int> _sessionCounts = new Dictionary<string, int>();
    private string? _error;
    private IReadOnlyList<Steward.Providers.Foundry.FoundryAgentInfo> _foundry = [];
    private string? _foundryError;

    [Inject] private Steward.Tools.ToolCatalog Tools { get; set; } = default!;

    [Inject] private PresetCatalog Presets { get; set; } = default!;

    [Inject] private Steward.Providers.Foundry.FoundryAgents Foundry { get; set; } = default!;

    [Inject] private AgentRegistry Registry { get; set; } = default!;

    [Inject] private StoredSessions Sessions { get; set; } = default!;

    protected override Task OnInitializedAsync() => RefreshAsync();

    private async Task RefreshAsync()
    {
        try
        {
            _error = null;
            _presets = Presets.List();
            _problems = Presets.Problems();
            _instances = Registry.Snapshot();
            _sessionCounts = await Sessions.CountByPresetAsync(CancellationToken.None);
        }
        catch (PresetLoadException ex)
        {
            _error = ex.Message;
        }

        await RefreshFoundryAsync();
    }

    // The Foundry project is asked on each refresh: its agents are shared with other processes and the portal.
    private async Task RefreshFoundryAsync()
    {
        if (!Foundry.AnyConfigured)
        {
            return;
        }

        try
        {
            _foundryError = null;
            _foundry = await Foundry.ListAsync(CancellationToken.None);
        }
        catch (Steward.Providers.ProviderException ex)
        {
            _foundryError = ex.Message;
        }
    }

    private int SessionCount(string preset) => _sessionCounts.GetValueOrDefault(preset);

    private static string Time(DateTimeOffset? time) => time?.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "—";

    private static string DescribeBudget(PresetBudget budget)
    {
        var parts = new List<string>();
        void Add(string label, string? value)
        {
            if (value is not null)
            {
                parts.Add($"{label} {value}");
            }
        }

        Add("per request", budget.MaxTokensPerRequest is { } a ? MetricFormat.Tokens(a) + " tokens" : null);
        Add("per request", budget.MaxCostPerRequestUsd is { } b ? MetricFormat.Usd(b) : null);
        Add("per session", budget.MaxTokensPerSession is { } c ? MetricFormat.Tokens(c) + " tokens" : null);
        Add("per session", budget.MaxCostPerSessionUsd is { } d ? MetricFormat.Usd(d) : null);
        Add("daily", budget.DailyCostUsd is { } e ? MetricFormat.Usd(e) : null);
        Add("monthly", budget.MonthlyCostUsd is { } f ? MetricFormat.Usd(f) : null);
        return parts.Count == 0 ? "none" : string.Join("; ", parts);
    }
}
