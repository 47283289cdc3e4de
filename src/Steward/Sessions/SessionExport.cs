using System.Text.Json;
using System.Text.Json.Serialization;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>
/// The versioned export of one session: the session, its messages, runs (usage, cost, status, errors, trace id)
/// and each run's progress log. <see cref="SessionExporter"/> reads it back without loss.
/// </summary>
public sealed record SessionExportDocument
{
    /// <summary>The format version this build writes.</summary>
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public DateTimeOffset ExportedAt { get; init; }
    public required ExportedSession Session { get; init; }
    public IReadOnlyList<ExportedMessage> Messages { get; init; } = [];
    public IReadOnlyList<ExportedRun> Runs { get; init; } = [];
}

public sealed record ExportedSession(Guid Id, string Title, string Preset, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record ExportedMessage(int Sequence, string Role, string Content, DateTimeOffset CreatedAt, Guid? RunId);

public sealed record ExportedRun(
    Guid Id, string Preset, string PresetVersion, string Provider, string Model, string Query, RunStatus Status,
    DateTimeOffset StartedAt, DateTimeOffset? EndedAt, double? DurationMs, double? TimeToFirstTokenMs, ExportedUsage Usage,
    ExportedCost Cost, ExportedError? Error, string? TraceId, IReadOnlyList<ExportedRunEvent> ProgressLog,
    IReadOnlyList<JsonElement> Evaluations, bool FromCache = false);

public sealed record ExportedUsage(long InputTokens, long CachedInputTokens, long OutputTokens, long ReasoningTokens);

/// <summary>Cost in USD; <see cref="Usd"/> is null when the model was unpriced.</summary>
public sealed record ExportedCost(decimal? Usd, bool Priced);

public sealed record ExportedError(string? Code, string Message);

public sealed record ExportedRunEvent(int Sequence, RunStage Stage, string Message, DateTimeOffset Timestamp);

/// <summary>A session document that cannot be imported, with the reason.</summary>
public sealed class SessionImportException : Exception
{
    public SessionImportException(string message) : base(message) { }

    public SessionImportException() { }

    public SessionImportException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>Writes and reads <see cref="SessionExportDocument"/>s. Holds no secrets: none are stored with sessions.</summary>
internal sealed class SessionExporter(SessionStore store, TimeProvider time)
{
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter() },
    };

    public async Task<SessionExportDocument> ExportAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        var s = await store.LoadRecordAsync(sessionId, cancellationToken).ConfigureAwait(false) ?? throw new SessionNotFoundException(sessionId);
        return new SessionExportDocument
        {
            ExportedAt = time.GetUtcNow(),
            Session = new ExportedSession(s.Id, s.Title, s.PresetName, Utc(s.CreatedAt), Utc(s.UpdatedAt)),
            Messages = s.Messages.OrderBy(m => m.Sequence).Select(m => new ExportedMessage(m.Sequence, m.Role, m.Content, Utc(m.CreatedAt), m.RunId)).ToArray(),
            Runs = s.Runs.OrderBy(r => r.StartedAt).ThenBy(r => r.Id).Select(r => new ExportedRun(
                r.Id, r.PresetName, r.PresetVersion, r.Provider, r.Model, r.Query, Enum.Parse<RunStatus>(r.Status), Utc(r.StartedAt),
                r.EndedAt is { } e ? Utc(e) : null, r.DurationMs, r.TimeToFirstTokenMs,
                new ExportedUsage(r.InputTokens, r.CachedInputTokens, r.OutputTokens, r.ReasoningTokens),
                new ExportedCost(NanoUsd.ToUsd(r.CostNanoUsd), r.CostNanoUsd is not null),
                r.Error is null && r.ErrorKind is null ? null : new ExportedError(r.ErrorKind, r.Error ?? ""),
                r.TraceId,
                r.Events.OrderBy(ev => ev.Sequence).Select(ev => new ExportedRunEvent(ev.Sequence, Enum.Parse<RunStage>(ev.Stage), ev.Message, Utc(ev.Timestamp))).ToArray(),
                [], r.FromCache)).ToArray(),
        };
    }

    public async Task WriteAsync(Guid sessionId, Stream destination, CancellationToken cancellationToken)
    {
        var doc = await ExportAsync(sessionId, cancellationToken).ConfigureAwait(false);
        await JsonSerializer.SerializeAsync(destination, doc, JsonOptions, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a document and stores the session. Nothing is written unless the whole document is valid.</summary>
    /// <exception cref="SessionImportException">The document is malformed, of an unknown version, or the session exists.</exception>
    public async Task<Guid> ImportAsync(Stream source, CancellationToken cancellationToken)
    {
        SessionExportDocument? doc;
        try
        {
            doc = await JsonSerializer.DeserializeAsync<SessionExportDocument>(source, JsonOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex) when (ex.Message.Contains("missing required properties", StringComparison.Ordinal))
        {
            throw new SessionImportException("The file is not a Steward session export: it has no 'session'.", ex);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" (line {line + 1})" : "";
            throw new SessionImportException($"The file is not a Steward session export: invalid JSON{where}.", ex);
        }

        if (doc?.Session is null)
        {
            throw new SessionImportException("The file is not a Steward session export: it has no 'session'.");
        }

        if (doc.SchemaVersion != SessionExportDocument.CurrentSchemaVersion)
        {
            throw new SessionImportException(
                $"The export has schema_version {doc.SchemaVersion}; this version of Steward reads version {SessionExportDocument.CurrentSchemaVersion}.");
        }

        if (await store.LoadRecordAsync(doc.Session.Id, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new SessionImportException($"Session {doc.Session.Id} already exists. Delete it first ('steward sessions delete {doc.Session.Id}') to replace it.");
        }

        var record = new SessionRecord
        {
            Id = doc.Session.Id,
            Title = doc.Session.Title,
            PresetName = doc.Session.Preset,
            CreatedAt = doc.Session.CreatedAt.UtcDateTime,
            UpdatedAt = doc.Session.UpdatedAt.UtcDateTime,
            Messages = doc.Messages.Select(m => new MessageRecord
            {
                SessionId = doc.Session.Id, RunId = m.RunId, Sequence = m.Sequence, Role = m.Role, Content = m.Content, CreatedAt = m.CreatedAt.UtcDateTime,
            }).ToList(),
            Runs = doc.Runs.Select(r => new RunRecord
            {
                Id = r.Id, SessionId = doc.Session.Id, PresetName = r.Preset, PresetVersion = r.PresetVersion, Provider = r.Provider, Model = r.Model,
                Query = r.Query, Status = r.Status.ToString(), StartedAt = r.StartedAt.UtcDateTime, EndedAt = r.EndedAt?.UtcDateTime,
                DurationMs = r.DurationMs, TimeToFirstTokenMs = r.TimeToFirstTokenMs, InputTokens = r.Usage.InputTokens,
                CachedInputTokens = r.Usage.CachedInputTokens, OutputTokens = r.Usage.OutputTokens, ReasoningTokens = r.Usage.ReasoningTokens,
                CostNanoUsd = r.Cost.Priced ? NanoUsd.FromUsd(r.Cost.Usd ?? 0m) : null, Error = r.Error?.Message, ErrorKind = r.Error?.Code,
                TraceId = r.TraceId, FromCache = r.FromCache, Owner = "imported",
                Events = r.ProgressLog.Select(ev => new RunEventRecord { RunId = r.Id, Sequence = ev.Sequence, Stage = ev.Stage.ToString(), Message = ev.Message, Timestamp = ev.Timestamp.UtcDateTime }).ToList(),
            }).ToList(),
        };

        if (record.Runs.Any(r => r.Status == nameof(RunStatus.Running)))
        {
            throw new SessionImportException("The export contains a run still marked Running; export it again once the run has ended.");
        }

        await store.InsertRecordAsync(record, cancellationToken).ConfigureAwait(false);
        return record.Id;
    }

    private static DateTimeOffset Utc(DateTime value) => SessionStore.Utc(value);
}
