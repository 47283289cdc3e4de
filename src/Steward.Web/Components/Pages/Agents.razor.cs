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

    [Inject] private PresetEditor Editor { get; set; } = default!;

    [Inject] private Steward.Web.SignIn.StewardAccess Access { get; set; } = default!;

    [Inject] private Steward.Providers.Foundry.FoundryAgents Foundry { get; set; } = default!;

    [Inject] private AgentRegistry Registry { get; set; } = default!;

    [Inject] private StoredSessions Sessions { get; set; } = default!;

    /// <summary>Whether this user may create, change and delete presets (admin); others see them read-only.</summary>
    private bool _canEdit;
    private PresetEdit? _edit;
    private IReadOnlyList<PresetEditProblem> _editProblems = [];
    private string? _notice;
    private string? _confirmDelete;

    // A new preset starts from a valid file, so the first Save shows what a preset needs rather than a list of errors.
    private const string NewPresetTemplate = """
        name: my_agent
        display_name: My Agent
        description: What this agent is for.
        instructions: |
          You are a helpful assistant.
        max_output_tokens: 800
        """;

    protected override async Task OnInitializedAsync()
    {
        _canEdit = await Access.AllowsAsync(Steward.Web.Hosting.StewardPolicies.Admin);
        await RefreshAsync();
    }

    private void StartNew()
    {
        _notice = null;
        _editProblems = [];
        _edit = new PresetEdit { IsNew = true, Name = "my_agent", Text = NewPresetTemplate };
    }

    private void StartEdit(string name)
    {
        _notice = null;
        _editProblems = [];
        try
        {
            var text = Editor.Read(name);
            _edit = new PresetEdit { IsNew = false, Name = name, Text = text, OpenedText = text };
        }
        catch (PresetNotFoundException ex)
        {
            _error = ex.Message;
        }
    }

    private void CancelEdit()
    {
        _edit = null;
        _editProblems = [];
    }

    private void Check()
    {
        if (_edit is { } edit)
        {
            _editProblems = Editor.Validate(edit.Name.Trim(), edit.Text);
            _notice = _editProblems.Count == 0 ? $"{edit.Name.Trim()}.yaml is valid (not saved yet)." : null;
        }
    }

    private async Task SaveAsync()
    {
        if (_edit is not { } edit)
        {
            return;
        }

        // The button is disabled for others, but a circuit's event can be sent without it.
        await Access.DemandAsync(Steward.Web.Hosting.StewardPolicies.Admin);
        var name = edit.Name.Trim();
        _editProblems = Editor.Save(name, edit.Text, edit.IsNew, edit.OpenedText);
        if (_editProblems.Count == 0)
        {
            _notice = $"Saved {name}.yaml: the next run of {name} uses it.";
            _edit = null;
            await RefreshAsync();
        }
    }

    private async Task DeleteAsync(string name)
    {
        await Access.DemandAsync(Steward.Web.Hosting.StewardPolicies.Admin);
        _confirmDelete = null;
        if (Editor.Delete(name) is { } problem)
        {
            _error = problem.Message;
            return;
        }

        _notice = $"Deleted {name}.yaml. Its sessions stay in History.";
        if (_edit?.Name == name)
        {
            _edit = null;
        }

        await RefreshAsync();
    }

    /// <summary>The preset being written in the editor.</summary>
    private sealed class PresetEdit
    {
        public bool IsNew { get; init; }

        public string Name { get; set; } = "";

        public string Text { get; set; } = "";

        /// <summary>The file as it was opened, so a save over someone else's later change is refused rather than silent.</summary>
        public string? OpenedText { get; init; }
    }

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
