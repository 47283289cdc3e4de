using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Parquet;
using Parquet.Schema;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>The formats <see cref="RunExporter"/> writes.</summary>
public enum RunExportFormat
{
    /// <summary>One JSON object per run and line, with its model calls and score nested.</summary>
    Jsonl,

    /// <summary>RFC 4180 CSV, one row per run; model calls and metrics as JSON text columns.</summary>
    Csv,

    /// <summary>Apache Parquet, one row group per page of runs; model calls and metrics as JSON text columns.</summary>
    Parquet,
}

/// <summary>Which runs to export. Every filter is optional.</summary>
public sealed record RunExportFilter
{
    /// <summary>Runs started at or after this instant.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Runs started before this instant.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Only runs of this agent preset.</summary>
    public string? Agent { get; init; }

    /// <summary>
    /// Only runs of the sessions this History filter selects (its text, agent, activity period, cost, quality and
    /// evaluation choice), so an export holds what the History list shows; <see langword="null"/>: any session.
    /// </summary>
    public SessionFilter? Sessions { get; init; }
}

/// <summary>
/// Writes every run a filter selects, oldest first, with its model calls and its score, to a stream, without holding
/// them all in memory: one query streams the runs, and each page of <see cref="PageSize"/> runs fetches its calls and
/// evaluations and is written before the next is read. Holds no secrets (none are stored with runs). Thread-safe.
/// </summary>
public sealed class RunExporter
{
    /// <summary>Runs per page (and per Parquet row group).</summary>
    public const int PageSize = 1_000;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private readonly IDbContextFactory<StewardDbContext> _contexts;

    internal RunExporter(IDbContextFactory<StewardDbContext> contexts) => _contexts = contexts;

    /// <summary>Writes the runs <paramref name="filter"/> selects to <paramref name="output"/>; returns how many.</summary>
    public async Task<long> ExportAsync(RunExportFilter filter, RunExportFormat format, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(output);
        await using var sink = format switch
        {
            RunExportFormat.Jsonl => (Sink)new JsonlSink(output),
            RunExportFormat.Csv => new CsvSink(output),
            RunExportFormat.Parquet => await ParquetSink.CreateAsync(output, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "jsonl, csv or parquet"),
        };

        await using var runsDb = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        // The same selection as the cost report's: what one exports is what the other adds up.
        var runs = Costs.CostReports.Filtered(runsDb, new Costs.CostFilter { From = filter.From, To = filter.To, Agent = filter.Agent });
        if (filter.Sessions is { } sessions)
        {
            var selected = SessionSearch.Filter(runsDb, runsDb.Sessions.AsNoTracking(), sessions).Select(s => s.Id);
            runs = runs.Where(r => selected.Contains(r.SessionId));
        }

        long count = 0;
        var page = new List<RunRecord>(PageSize);
        // One streamed query (no tracking, no buffering); a page's calls and scores come from a second context.
        await foreach (var run in runs.OrderBy(r => r.StartedAt).ThenBy(r => r.Id).AsAsyncEnumerable().WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            page.Add(run);
            if (page.Count == PageSize)
            {
                count += await WritePageAsync(page, sink, cancellationToken).ConfigureAwait(false);
                page.Clear();
            }
        }

        count += await WritePageAsync(page, sink, cancellationToken).ConfigureAwait(false);
        return count;
    }

    private async Task<int> WritePageAsync(List<RunRecord> page, Sink sink, CancellationToken cancellationToken)
    {
        if (page.Count == 0)
        {
            return 0;
        }

        var ids = page.Select(r => r.Id).ToArray();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var calls = (await db.ModelCalls.AsNoTracking().Where(c => ids.Contains(c.RunId)).ToListAsync(cancellationToken).ConfigureAwait(false))
            .OrderBy(c => c.Purpose == "judge").ThenBy(c => c.Sequence).ToLookup(c => c.RunId);
        var scores = await db.Evaluations.AsNoTracking().Include(e => e.Metrics).Where(e => ids.Contains(e.RunId))
            .ToDictionaryAsync(e => e.RunId, cancellationToken).ConfigureAwait(false);
        var tags = (await db.RunTags.AsNoTracking().Where(t => ids.Contains(t.RunId)).ToListAsync(cancellationToken).ConfigureAwait(false))
            .OrderBy(t => t.Tag, StringComparer.Ordinal).ToLookup(t => t.RunId, t => t.Tag);
        var rows = page.Select(r => ExportedRun.From(r, calls[r.Id], scores.GetValueOrDefault(r.Id)) with { Tags = [.. tags[r.Id]] }).ToArray();
        await sink.WriteAsync(rows, cancellationToken).ConfigureAwait(false);
        return rows.Length;
    }

    /// <summary>One exported run (its JSON shape; CSV and Parquet flatten it).</summary>
    internal sealed record ExportedRun(
        Guid RunId, Guid SessionId, string Agent, string PresetVersion, string Provider, string Model, string Purpose, string Status, DateTime StartedAt,
        DateTime? EndedAt, double? DurationMs, double? TimeToFirstTokenMs, long InputTokens, long CachedInputTokens, long OutputTokens, long ReasoningTokens,
        decimal? CostUsd, bool FromCache, string? FinishReason, string? ErrorKind, string? TraceId, double? QualityScore, bool? Passed,
        IReadOnlyList<ExportedCall> ModelCalls, IReadOnlyList<ExportedMetric> Metrics)
    {
        /// <summary>Who the run was made for, when the caller said.</summary>
        public string? UserId { get; init; }

        /// <summary>The run's tags, in order.</summary>
        public IReadOnlyList<string> Tags { get; init; } = [];

        public static ExportedRun From(RunRecord r, IEnumerable<ModelCallRecord> calls, EvaluationRecord? score) => new(
            r.Id, r.SessionId, r.PresetName, r.PresetVersion, r.Provider, r.Model, r.Purpose, r.Status, Utc(r.StartedAt), r.EndedAt is { } e ? Utc(e) : null,
            r.DurationMs, r.TimeToFirstTokenMs, r.InputTokens, r.CachedInputTokens, r.OutputTokens, r.ReasoningTokens, NanoUsd.ToUsd(r.CostNanoUsd), r.FromCache,
            r.FinishReason, r.ErrorKind, r.TraceId, score?.Score, score?.Passed,
            [.. calls.Select(c => new ExportedCall(c.Id, c.Purpose, c.Sequence, c.Provider, c.Model, Utc(c.StartedAt), c.DurationMs, c.InputTokens, c.CachedInputTokens,
                c.OutputTokens, c.ReasoningTokens, NanoUsd.ToUsd(c.CostNanoUsd), c.Status, c.FinishReason))],
            score is null ? [] : [.. score.Metrics.OrderBy(m => m.Sequence).Select(m => new ExportedMetric(m.Name, m.Evaluator, m.Value, m.NormalizedScore, m.Rating))])
        {
            UserId = r.UserId,
        };

        private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);
    }

    internal sealed record ExportedCall(
        Guid Id, string Purpose, int Sequence, string Provider, string Model, DateTime StartedAt, double DurationMs, long InputTokens, long CachedInputTokens,
        long OutputTokens, long ReasoningTokens, decimal? CostUsd, string Status, string? FinishReason);

    internal sealed record ExportedMetric(string Name, string Evaluator, double? Value, double? NormalizedScore, string? Rating);

    private abstract class Sink : IAsyncDisposable
    {
        public abstract Task WriteAsync(IReadOnlyList<ExportedRun> rows, CancellationToken cancellationToken);

        public abstract ValueTask DisposeAsync();
    }

    private sealed class JsonlSink(Stream output) : Sink
    {
        public override async Task WriteAsync(IReadOnlyList<ExportedRun> rows, CancellationToken cancellationToken)
        {
            foreach (var row in rows)
            {
                await JsonSerializer.SerializeAsync(output, row, Json, cancellationToken).ConfigureAwait(false);
                output.WriteByte((byte)'\n');
            }

            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>The flat columns CSV and Parquet share, in order.</summary>
    private static readonly string[] Columns =
    [
        "run_id", "session_id", "agent", "preset_version", "provider", "model", "purpose", "status", "started_at", "ended_at", "duration_ms",
        "time_to_first_token_ms", "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "cost_usd", "from_cache", "finish_reason",
        "error_kind", "trace_id", "quality_score", "passed", "model_calls_json", "metrics_json", "user_id", "tags_json",
    ];

    private static string Iso(DateTime value) => value.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static string? Text(object? value) => value switch
    {
        null => null,
        DateTime d => Iso(d),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    private static object?[] Flatten(ExportedRun r) =>
    [
        r.RunId.ToString(), r.SessionId.ToString(), r.Agent, r.PresetVersion, r.Provider, r.Model, r.Purpose, r.Status, r.StartedAt, r.EndedAt, r.DurationMs,
        r.TimeToFirstTokenMs, r.InputTokens, r.CachedInputTokens, r.OutputTokens, r.ReasoningTokens, r.CostUsd, r.FromCache, r.FinishReason, r.ErrorKind,
        r.TraceId, r.QualityScore, r.Passed, JsonSerializer.Serialize(r.ModelCalls, Json), JsonSerializer.Serialize(r.Metrics, Json), r.UserId,
        JsonSerializer.Serialize(r.Tags, Json),
    ];

    private sealed class CsvSink : Sink
    {
        private readonly StreamWriter _writer;

        public CsvSink(Stream output)
        {
            _writer = new StreamWriter(output, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\r\n" };
            // The header fits the writer's buffer, so nothing reaches the stream here.
            _writer.WriteLine(Row(Columns));
        }

        public override async Task WriteAsync(IReadOnlyList<ExportedRun> rows, CancellationToken cancellationToken)
        {
            foreach (var row in rows)
            {
                // Asynchronous: a row longer than the writer's buffer goes to the stream at once, and an HTTP response body
                // refuses synchronous writes (a run with model calls failed the CSV export with 500).
                await _writer.WriteLineAsync(Row(Flatten(row).Select(Text)).AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        private static string Row(IEnumerable<string?> values) =>
            string.Join(',', values.Select(v => v is null ? "" : v.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : v));

        public override async ValueTask DisposeAsync() => await _writer.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class ParquetSink : Sink
    {
        private static readonly DataField[] Fields =
        [
            new DataField<string>("run_id"), new DataField<string>("session_id"), new DataField<string>("agent"), new DataField<string>("preset_version"),
            new DataField<string>("provider"), new DataField<string>("model"), new DataField<string>("purpose"), new DataField<string>("status"),
            new DataField<DateTime>("started_at"), new DataField<DateTime?>("ended_at"), new DataField<double?>("duration_ms"),
            new DataField<double?>("time_to_first_token_ms"), new DataField<long>("input_tokens"), new DataField<long>("cached_input_tokens"),
            new DataField<long>("output_tokens"), new DataField<long>("reasoning_tokens"), new DataField<double?>("cost_usd"), new DataField<bool>("from_cache"),
            new DataField<string>("finish_reason"), new DataField<string>("error_kind"), new DataField<string>("trace_id"), new DataField<double?>("quality_score"),
            new DataField<bool?>("passed"), new DataField<string>("model_calls_json"), new DataField<string>("metrics_json"), new DataField<string>("user_id"),
            new DataField<string>("tags_json"),
        ];

        private readonly ParquetWriter _writer;

        private ParquetSink(ParquetWriter writer) => _writer = writer;

        public static async Task<ParquetSink> CreateAsync(Stream output, CancellationToken cancellationToken) =>
            new(await ParquetWriter.CreateAsync(new ParquetSchema(Fields), output, cancellationToken: cancellationToken).ConfigureAwait(false));

        public override async Task WriteAsync(IReadOnlyList<ExportedRun> rows, CancellationToken cancellationToken)
        {
            var flat = rows.Select(Flatten).ToArray();
            using var group = _writer.CreateRowGroup();
            for (var i = 0; i < Fields.Length; i++)
            {
                var field = Fields[i];
                var column = flat.Select(r => r[i]).ToArray();
                // Matched on the declared field type: Parquet.Net reports strings' CLR type as ReadOnlyMemory<char>.
                var task = field switch
                {
                    DataField<string> => group.WriteAsync(field, column.Select(v => v is null ? null : v as string ?? Text(v)).ToArray()!),
                    DataField<DateTime?> => group.WriteAsync<DateTime>(field, column.Select(v => (DateTime?)v).ToArray().AsMemory(), cancellationToken: cancellationToken),
                    DataField<DateTime> => group.WriteAsync<DateTime>(field, column.Select(v => (DateTime)v!).ToArray().AsMemory(), cancellationToken: cancellationToken),
                    DataField<double?> => group.WriteAsync<double>(field, column.Select(v => v is decimal d ? (double?)(double)d : (double?)v).ToArray().AsMemory(),
                        cancellationToken: cancellationToken),
                    DataField<long> => group.WriteAsync<long>(field, column.Select(v => (long)v!).ToArray().AsMemory(), cancellationToken: cancellationToken),
                    DataField<bool?> => group.WriteAsync<bool>(field, column.Select(v => (bool?)v).ToArray().AsMemory(), cancellationToken: cancellationToken),
                    DataField<bool> => group.WriteAsync<bool>(field, column.Select(v => (bool)v!).ToArray().AsMemory(), cancellationToken: cancellationToken),
                    _ => throw new InvalidOperationException($"No Parquet writer for the column {field.Name}."),
                };
                await task.ConfigureAwait(false);
            }
        }

        public override async ValueTask DisposeAsync() => await _writer.DisposeAsync().ConfigureAwait(false);
    }
}
