using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Steward.Agents;
using Steward.Providers;
using Steward.Sessions;
using Steward.Web.Chat;
using Steward.Web.Components.Shared;

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
    private IReadOnlyList<StoredTurn> _earlier = [];
    private IReadOnlyDictionary<Guid, QualityResult> _quality = new Dictionary<Guid, QualityResult>();
    private string? _presetName;
    private string? _query;
    private string? _tags;
    private string? _tagsProblem;
    private Guid? _sessionId;
    private string? _shortSessionId;
    private Guid? _shortSessionFor;
    private string? _readinessProblem;
    private string? _loadError;
    private string? _presetNotice;
    private bool _disposed;
    private readonly CancellationTokenSource _closed = new();
    private CancellationTokenSource? _running;
    private readonly ChatApprover _approver = new();
    private long _lastRender;
    private bool _trailingRender;

    [Parameter] public Guid? SessionId { get; set; }

    /// <summary>Preselects an agent, so a link can open Chat with it (<c>/?preset=tech_advisor</c>).</summary>
    [SupplyParameterFromQuery(Name = "preset")] public string? PresetFromQuery { get; set; }

    [Inject] private AgentRunner Runner { get; set; } = default!;

    [Inject] private PresetCatalog Presets { get; set; } = default!;

    [Inject] private ProviderCatalog Providers { get; set; } = default!;

    [Inject] private ProviderReadiness Readiness { get; set; } = default!;

    [Inject] private StoredSessions Sessions { get; set; } = default!;

    [Inject] private IdLookup Ids { get; set; } = default!;

    [Inject] private NavigationManager Navigation { get; set; } = default!;

    [Inject] private TimeProvider Time { get; set; } = default!;

    [Inject] private Steward.Web.SignIn.StewardAccess Access { get; set; } = default!;

    /// <summary>Whether this user may chat (operator); a viewer reads the conversation with the input disabled.</summary>
    private bool _canChat = true;

    private bool IsRunning => _running is not null;

    private AgentPreset? SelectedPreset => _presets.FirstOrDefault(p => p.Name == _presetName);

    protected override void OnInitialized()
    {
        _presets = Presets.List();
        _presetName = _presets.FirstOrDefault(p => p.Name == PresetFromQuery)?.Name
            ?? _presets.FirstOrDefault(p => p.Name == "general_assistant")?.Name
            ?? (_presets.Count > 0 ? _presets[0].Name : null);
        if (!string.IsNullOrWhiteSpace(PresetFromQuery) && _presets.All(p => p.Name != PresetFromQuery))
        {
            // A link to an agent that is gone (or mistyped) must not quietly put the question to another one.
            _presetNotice = $"There is no agent named '{PresetFromQuery}'"
                + (SelectedPreset is { } fallback ? $"; {fallback.DisplayName} is selected instead. Pick another in the list." : ".");
        }
        _readinessProblem = Readiness.DescribeProblem();
    }

    protected override async Task OnParametersSetAsync()
    {
        _canChat = await Access.AllowsAsync(Steward.Web.Hosting.StewardPolicies.Operator);
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
            _earlier = StoredConversation.Turns(detail);
            _quality = await Sessions.GetQualityAsync([.. detail.Runs.Select(r => r.Id)], CancellationToken.None);
            _presetName = detail.Summary.Preset;
            await ShowSessionIdAsync(id);
        }
        catch (SessionNotFoundException)
        {
            _loadError = FriendlyMessages.SessionNotFound(id);
            _sessionId = null;
        }
    }

    // UUIDv7 ids made a minute apart share their first eight digits: the shortest start no other session shares.
    private async Task ShowSessionIdAsync(Guid id)
    {
        _shortSessionId = (await Ids.ShortestUniqueAsync(IdKind.Session, [id], cancellationToken: CancellationToken.None))[id];
        _shortSessionFor = id;
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

    /// <summary>
    /// What a failed turn says. A conversation deleted (from History, another tab, the command line) while this page
    /// still shows it fails its next turn as an unknown session, whose message points at the command line's listing.
    /// </summary>
    private string ErrorText(RunError error) =>
        error.Code == RunErrorCodes.SessionNotFound && _sessionId is { } id ? FriendlyMessages.SessionNotFound(id) : error.Message;

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

        await Access.DemandAsync(Steward.Web.Hosting.StewardPolicies.Operator);

        IReadOnlyList<string> tags;
        try
        {
            tags = RunMetadata.Tags((_tags ?? "").Split(','));
        }
        catch (ArgumentException ex)
        {
            // Said at the field, and the question stays in the box to send again once the tags are fixed.
            _tagsProblem = ex.Message;
            return;
        }

        _tagsProblem = null;
        var turn = new ChatTurn(_query.Trim(), tags);
        _query = "";
        _turns.Add(turn);
        using var running = new CancellationTokenSource();
        _running = running;
        try
        {
            var request = new RunRequest { Preset = _presetName, Query = turn.Query, SessionId = _sessionId, Approver = _approver, Tags = turn.Tags };
            var response = await Runner.RunAsync(request, progress => ApplyAsync(turn, progress), running.Token);
            if (_disposed)
            {
                // The tab was closed: the run ended as cancelled and is stored; there is no page left to update.
                return;
            }

            turn.Complete(response);
            if (response.EvaluationPending)
            {
                _ = EndScoringAsync(turn, response.RunId);
            }

            if (response.SessionId is { } created && _shortSessionFor != created)
            {
                if (_sessionId is null)
                {
                    // The run ended without a terminal event reaching this page (it is sent once the run is stored).
                    MoveToSession(created);
                }

                await ShowSessionIdAsync(created);
            }
        }
        finally
        {
            _running = null;
        }
    }

    private void MoveToSession(Guid created)
    {
        _sessionId = created;
        Navigation.NavigateTo($"/chat/{created}", new NavigationOptions { ReplaceHistoryEntry = true });
    }

    /// <summary>
    /// Waits for the answer's score: its Quality event may never come (the queue skipped the answer), and the badge
    /// must end either way.
    /// </summary>
    private async Task EndScoringAsync(ChatTurn turn, Guid runId)
    {
        QualityResult? quality;
        try
        {
            quality = await Runner.WaitForQualityAsync(runId, _closed.Token);
        }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested)
        {
            return;
        }

        await InvokeAsync(() =>
        {
            if (!_disposed)
            {
                turn.ScoringEnded(quality);
                StateHasChanged();
            }
        });
    }

    private ValueTask ApplyAsync(ChatTurn turn, RunProgress progress) => _disposed ? ValueTask.CompletedTask : new(InvokeAsync(() =>
    {
        if (_disposed)
        {
            return;
        }

        turn.Apply(progress);
        if (progress.Response?.SessionId is { } created && _sessionId is null)
        {
            // Moved to the session's address before the finished answer (and its trace and history links) is drawn: a
            // person who clicks one of those links at once is not pulled back here by an address change still on its way.
            MoveToSession(created);
        }

        var now = Time.GetTimestamp();
        if (progress.TextDelta is null || Time.GetElapsedTime(_lastRender, now) >= RenderInterval)
        {
            _lastRender = now;
            _trailingRender = false;
            StateHasChanged();
        }
        else if (!_trailingRender)
        {
            // A delta held back by the interval must still reach the screen when no event follows it (a model that
            // stalls, a person who stops the run): the text streamed so far is what they decide on.
            _trailingRender = true;
            _ = RenderLaterAsync();
        }
    }));

    private async Task RenderLaterAsync()
    {
        await Task.Delay(RenderInterval, Time);
        if (_disposed)
        {
            return;
        }

        await InvokeAsync(() =>
        {
            if (_trailingRender && !_disposed)
            {
                _trailingRender = false;
                _lastRender = Time.GetTimestamp();
                StateHasChanged();
            }
        });
    }

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
        _disposed = true;
        _running?.Cancel();
        _closed.Cancel();
        _closed.Dispose();
    }
}
