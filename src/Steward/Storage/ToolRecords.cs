using Steward.Agents;
using Steward.Tools;

namespace Steward.Storage;

/// <summary>Maps a run's tool calls and citations to their rows and back.</summary>
internal static class ToolRecords
{
    public static ToolCallRecord ToRecord(Guid runId, int sequence, ToolCallProgress t) => new()
    {
        RunId = runId, Sequence = sequence, CallId = t.CallId, Name = t.Name, Server = t.Server, Arguments = t.Arguments, ResultPreview = t.ResultPreview,
        Error = t.Error ?? (t.Completed ? null : "The run ended before the call returned."), DurationMs = t.Duration?.TotalMilliseconds, Approval = t.Approval,
        StartedAt = t.StartedAt?.UtcDateTime,
    };

    public static ToolCallProgress FromRecord(ToolCallRecord r) => new(r.CallId, r.Name, Completed: true)
    {
        Server = r.Server, Arguments = r.Arguments, ResultPreview = r.ResultPreview, Error = r.Error,
        Duration = r.DurationMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, Approval = r.Approval,
        StartedAt = r.StartedAt is { } s ? Sessions.SessionStore.Utc(s) : null,
    };

    public static CitationRecord ToRecord(Guid runId, Citation c) => new()
    {
        RunId = runId, Number = c.Number, Url = c.Url, Title = c.Title, Snippet = c.Snippet, Source = c.Source, PublishedAt = c.PublishedAt?.UtcDateTime,
        StartIndex = c.StartIndex, EndIndex = c.EndIndex,
    };

    public static Citation FromRecord(CitationRecord r) => new(r.Number, r.Url, r.Title)
    {
        Snippet = r.Snippet, Source = r.Source, PublishedAt = r.PublishedAt is { } p ? Sessions.SessionStore.Utc(p) : null, StartIndex = r.StartIndex, EndIndex = r.EndIndex,
    };
}
