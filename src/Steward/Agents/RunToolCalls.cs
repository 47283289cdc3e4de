using Microsoft.Extensions.AI;
using Steward.Evaluation;
using Steward.Tools;

namespace Steward.Agents;

/// <summary>
/// One run's tool calls as the agent makes them: each announced when it starts (with its arguments) and again when it
/// ends (result preview or error, duration, approval, server), the results kept for evaluation, the provider's own
/// search and its citations noted, and <c>mode: always</c>'s search made before the model is asked. Not thread-safe:
/// the runner feeds it the agent's stream in order.
/// </summary>
internal sealed class RunToolCalls(RunToolset toolset, RunLog log, TimeProvider time)
{
    private readonly List<ToolCallProgress> _calls = [];
    private readonly List<ToolResult> _results = [];

    public RunToolset Toolset => toolset;

    /// <summary>Every tool call, one entry each, in the order they started.</summary>
    public IReadOnlyList<ToolCallProgress> Calls => _calls;

    /// <summary>What each call returned, for citation checks and groundedness.</summary>
    public IReadOnlyList<ToolResult> Results => _results;

    /// <summary>The run's sources against its answer.</summary>
    public IReadOnlyList<Citation> Citations(string answer) => toolset.Run.Sources.CitationsFor(answer);

    /// <summary>Problems setting up the tools (an MCP server that did not start), into the progress log.</summary>
    public async ValueTask NoteProblemsAsync()
    {
        foreach (var note in toolset.Run.TakeNotes())
        {
            await log.NoteAsync(note).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>mode: always</c>, for models that cannot call tools: the search is made for them with the question, shown as
    /// the tool call it stands for, and the numbered sources go into the prompt ahead of the question.
    /// </summary>
    public async Task<IReadOnlyList<ChatMessage>> SearchFirstAsync(IReadOnlyList<ChatMessage> messages, string query, CancellationToken cancellationToken)
    {
        const string CallId = "search-first";
        var arguments = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["query"] = query });
        var started = new ToolCallProgress(CallId, ToolCatalog.WebSearchName, Completed: false) { Arguments = arguments, StartedAt = time.GetUtcNow() };
        _calls.Add(started);
        await log.ToolCallAsync(started).ConfigureAwait(false);
        var sources = await toolset.SearchFirstAsync(query, CallId, cancellationToken).ConfigureAwait(false);
        var finished = Finish(started, sources, toolset.Run.Outcome(CallId));
        _calls[^1] = finished;
        _results.Add(new ToolResult(ToolCatalog.WebSearchName, sources));
        await log.ToolCallAsync(finished).ConfigureAwait(false);
        if (toolset.Run.Sources.Sources.Count == 0)
        {
            await log.NoteAsync("The search found no sources; the model answers without them.").ConfigureAwait(false);
            return messages;
        }

        return [.. messages.Take(messages.Count - 1), new ChatMessage(ChatRole.User, RunToolset.WithSources(messages[^1].Text, sources))];
    }

    /// <summary>Hosted search's <c>url_citation</c> annotations arrive on the finished message item, not on the streamed text.</summary>
    public void Observe(ChatResponseUpdate? update)
    {
        foreach (var (url, title, start, end) in HostedSearch.Citations(update?.RawRepresentation))
        {
            toolset.Run.Sources.AddCited(url, title, start, end);
        }
    }

    /// <summary>Citations a provider put on the text itself.</summary>
    public void Cite(TextContent text)
    {
        foreach (var citation in text.Annotations?.OfType<CitationAnnotation>() ?? [])
        {
            if (citation.Url is { } url)
            {
                var region = citation.AnnotatedRegions?.OfType<TextSpanAnnotatedRegion>().FirstOrDefault();
                toolset.Run.Sources.AddCited(url.ToString(), citation.Title, region?.StartIndex, region?.EndIndex);
            }
        }
    }

    /// <summary>A non-text content of the agent's stream: a tool call, its result, or the provider's own search.</summary>
    public async ValueTask ObserveAsync(AIContent content)
    {
        switch (content)
        {
            case TextContent text:
                Cite(text);
                break;
            case FunctionCallContent { InformationalOnly: false } call:
                var started = new ToolCallProgress(call.CallId, call.Name, Completed: false)
                {
                    Arguments = ToolCallText.Arguments(call.Arguments), StartedAt = time.GetUtcNow(),
                };
                _calls.Add(started);
                await log.ToolCallAsync(started).ConfigureAwait(false);
                break;
            case FunctionResultContent result:
                await ResultAsync(result).ConfigureAwait(false);
                break;
            case WebSearchToolCallContent hosted:
                await HostedAsync(hosted).ConfigureAwait(false);
                break;
        }
    }

    private async ValueTask ResultAsync(FunctionResultContent result)
    {
        var index = _calls.FindLastIndex(c => c.CallId == result.CallId);
        var known = index >= 0 ? _calls[index] : new ToolCallProgress(result.CallId, "tool", Completed: false);
        var text = GuardedFunction.ToText(result.Result).Text;
        var elapsed = time.GetUtcNow() - (known.StartedAt ?? time.GetUtcNow());
        // A tool of the run's own is guarded and recorded its outcome; one passed in the request's options was not.
        var outcome = toolset.Run.Outcome(result.CallId) ?? (result.Exception is { } ex ? new ToolCallOutcome(elapsed, ex.Message, null, null) : null);
        var finished = Finish(known, text, outcome) with { Duration = outcome?.Duration ?? elapsed };
        if (index >= 0)
        {
            _calls[index] = finished;
        }
        else
        {
            _calls.Add(finished);
        }

        _results.Add(new ToolResult(known.Name, text));
        await log.ToolCallAsync(finished).ConfigureAwait(false);
    }

    /// <summary>
    /// The provider's own search (hosted): informational, it ran on the provider's side. Reported once when it starts and
    /// once when it is done (the provider says so twice, in progress and done, with the same id).
    /// </summary>
    private async ValueTask HostedAsync(WebSearchToolCallContent hosted)
    {
        var index = _calls.FindLastIndex(c => c.CallId == hosted.CallId);
        if (index >= 0 && _calls[index].Completed)
        {
            return;
        }

        var call = index >= 0
            ? _calls[index] with { Completed = true, Duration = time.GetUtcNow() - (_calls[index].StartedAt ?? time.GetUtcNow()) }
            : new ToolCallProgress(hosted.CallId, ToolCatalog.WebSearchName, Completed: false) { StartedAt = time.GetUtcNow(), Server = WebSearchBackends.Hosted };
        if (hosted.Queries is { Count: > 0 } queries || index < 0)
        {
            call = call with { Arguments = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object?> { ["queries"] = hosted.Queries ?? [] }) };
        }

        if (index >= 0)
        {
            _calls[index] = call;
        }
        else
        {
            _calls.Add(call);
        }

        await log.ToolCallAsync(call).ConfigureAwait(false);
    }

    private static ToolCallProgress Finish(ToolCallProgress started, string result, ToolCallOutcome? outcome) => started with
    {
        Completed = true,
        ResultPreview = outcome?.Error is null ? ToolCallText.Preview(result) : null,
        Error = outcome?.Error,
        Duration = outcome?.Duration,
        Approval = outcome?.Approval,
        Server = outcome?.Server,
    };
}
