namespace Steward.Storage;

// Persistence shapes. They stay inside the engine; callers see the records in Sessions/ and Agents/.

internal sealed class SessionRecord
{
    public Guid Id { get; set; }
    public string Title { get; set; } = "";
    public string PresetName { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public List<MessageRecord> Messages { get; set; } = [];
    public List<RunRecord> Runs { get; set; } = [];
}

internal sealed class MessageRecord
{
    public long Id { get; set; }
    public Guid SessionId { get; set; }
    public Guid? RunId { get; set; }
    public int Sequence { get; set; }
    public string Role { get; set; } = "";
    public string Content { get; set; } = "";
    public DateTime CreatedAt { get; set; }
}

internal sealed class RunRecord
{
    public Guid Id { get; set; }
    public Guid SessionId { get; set; }
    public string PresetName { get; set; } = "";
    public string PresetVersion { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Model { get; set; } = "";
    public string Query { get; set; } = "";
    public string Status { get; set; } = "";
    public DateTime StartedAt { get; set; }
    public DateTime? EndedAt { get; set; }
    public double? DurationMs { get; set; }
    public double? TimeToFirstTokenMs { get; set; }
    public long InputTokens { get; set; }
    public long CachedInputTokens { get; set; }
    public long OutputTokens { get; set; }
    public long ReasoningTokens { get; set; }

    /// <summary>Cost in billionths of a USD: exact, and summable in SQL (SQLite cannot sum decimals).</summary>
    public long? CostNanoUsd { get; set; }

    public string? Error { get; set; }
    public string? ErrorKind { get; set; }
    public string? TraceId { get; set; }

    /// <summary>Served from the response cache (usage and cost zero).</summary>
    public bool FromCache { get; set; }

    /// <summary>The process running it (machine/pid/start), so a later start can tell a crashed run from a live one.</summary>
    public string Owner { get; set; } = "";

    public List<RunEventRecord> Events { get; set; } = [];
}

internal sealed class RunEventRecord
{
    public long Id { get; set; }
    public Guid RunId { get; set; }
    public int Sequence { get; set; }
    public string Stage { get; set; } = "";
    public string Message { get; set; } = "";
    public DateTime Timestamp { get; set; }
}
