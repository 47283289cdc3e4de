using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Steward.Agents;
using Steward.Providers;
using Steward.Sessions;
using Steward.Web.Chat;

namespace Steward.Web.Components.Pages;

/// <summary>
/// Ask a preset, watch the run's stages and the answer stream in, stop it, see what it cost. A session is continued
/// by opening <c>/chat/{id}</c>.
/// </summary>
public sealed partial class Chat : IDisposable
{
    // Text deltas can arrive faster than a browser needs frames; stage changes always render.
    private static readonly TimeSpan RenderInterval = TimeSpan.FromMilliseconds(40);

    private readonly List<ChatTurn> _turns = [];
    private IReadOnlyList<AgentPreset> _presets = [];
    private IReadOnlyList<SessionMessage> _earlier = [];
    private string? _presetName;
    private string? _query;
    private Guid? _sessionId;
    private string? _readinessProblem;
    private string? _loadError;
    private CancellationTokenSource? _running;
    private readonly ChatApprover _approver = new();
    private long _lastRender;

    [Parameter] public Guid? SessionId { get; set; }

    /// <summary>Preselects an agent, so a link can open Chat with it (<c>/?preset=tech_advisor</c>).</summary>
    [SupplyParameterFromQuery(Name = "preset")] public string? PresetFromQuery { get; set; }

    [Inject] private AgentRunner Runner { get; set; } = default!;

    [Inject] private PresetCatalog Presets { get; set; } = default!;

    [Inject] private ProviderCatalog Providers { get; set; } = default!;

    [Inject] private ProviderReadiness Readiness { get; set; } = default!;

    [Inject] private SessionStore Sessions { get; set; } = default!;

    [Inject] private NavigationManager Navigation { get; set; } = default!;

    [Inject] private TimeProvider Time { get; set; } = default!;

    private bool IsRunning => _running is not null;

    private AgentPreset? SelectedPreset => _presets.FirstOrDefault(p => p.Name == _presetName);

    protected override void OnInitialized()
    {
        _presets = Presets.List();
        _presetName = _presets.FirstOrDefault(p => p.Name == PresetFromQuery)?.Name
            ?? _presets.FirstOrDefault(p => p.Name == "general_assistant")?.Name
            ?? (_presets.Count > 0 ? _presets[0].Name : null);
        _readinessProblem = Readiness.DescribeProblem();
    }

    protected override async Task OnParametersSetAsync()
    {
        // The page rewrites its own address once a new session exists; that is not a request to load it again.
        if (SessionId == _sessionId)
        {
            return;
        }

        _turns.Clear();
        _earlier = [];
        _loadError = null;
        _sessionId = SessionId;
        if (SessionId is not { } id)
        {
            return;
        }

        try
        {
            var detail = await Sessions.GetAsync(id, CancellationToken.None);
            _earlier = detail.Messages;
            _presetName = detail.Summary.Preset;
        }
        catch (SessionNotFoundException ex)
        {
            _loadError = ex.Message;
            _sessionId = null;
        }
    }

    private string DescribeModel(AgentPreset preset)
    {
        try
        {
            var provider = Providers.Resolve(preset.Provider, preset.Model);
            return $"{MetricFormat.ModelName(provider.Model)} on {provider.Name} ({provider.Kind})";
        }
        catch (ProviderNotConfiguredException)
        {
            return $"provider '{preset.Provider ?? Providers.DefaultProviderName}' is not configured";
        }
    }

    private Task SelectPresetAsync(string name)
    {
        _presetName = name;
        return Task.CompletedTask;
    }

    private void NewChat()
    {
        _turns.Clear();
        _earlier = [];
        _sessionId = null;
        _loadError = null;
        Navigation.NavigateTo("/", new NavigationOptions { ReplaceHistoryEntry = true });
    }

    private void RecheckReadiness() => _readinessProblem = Readiness.DescribeProblem();

    private async Task OnKeyDownAsync(KeyboardEventArgs e)
    {
        if (e is { Key: "Enter", ShiftKey: false } && !IsRunning && !string.IsNullOrWhiteSpace(_query))
        {
            await SendAsync();
        }
    }

    private async Task SendAsync()
    {
        if (IsRunning || _presetName is null || string.IsNullOrWhiteSpace(_query))
        {
            return;
        }

        var turn = new ChatTurn(_query.Trim());
        _query = "";
        _turns.Add(turn);
        using var running = new CancellationTokenSource();
        _running = running;
        try
        {
            var request = new RunRequest { Preset = _presetName, Query = turn.Query, SessionId = _sessionId, Approver = _approver };
            var response = await Runner.RunAsync(request, progress => ApplyAsync(turn, progress), running.Token);
            turn.Complete(response);
            if (_sessionId is null && response.SessionId is { } created)
            {
                _sessionId = created;
                Navigation.NavigateTo($"/chat/{created}", new NavigationOptions { ReplaceHistoryEntry = true });
            }
        }
        finally
        {
            _running = null;
        }
    }

    private ValueTask ApplyAsync(ChatTurn turn, RunProgress progress) => new(InvokeAsync(() =>
    {
        turn.Apply(progress);
        var now = Time.GetTimestamp();
        if (progress.TextDelta is null || Time.GetElapsedTime(_lastRender, now) >= RenderInterval)
        {
            _lastRender = now;
            StateHasChanged();
        }
    }));

    private void Stop() => _running?.Cancel();

    private void Answer(ChatTurn turn, Steward.Tools.ToolApprovalRequest request, bool approved)
    {
        _approver.Answer(request.Id, approved);
        turn.Answered(request.Id);
    }

    public void Dispose()
    {
        // Closing the tab stops a run still answering: nobody is left to read the answer, which is stored as cancelled
        // with what was generated. An answer already delivered is final; its scoring goes on in the background.
        _running?.Cancel();
    }
}
