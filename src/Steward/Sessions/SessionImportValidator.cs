using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Steward.Agents;
using Steward.Providers;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>
/// Reads a session export and checks every field before anything is stored: an export is a file from anywhere, and
/// what it holds ends up in the history sent to models, in costs, on every page and in file paths. A problem is one
/// line naming the field by its JSON path (<c>runs[2].usage.input_tokens: must be 0 or more (found -5)</c>).
/// </summary>
internal static class SessionImportValidator
{
    /// <summary>More tokens than any run uses; far below what sums of many runs could overflow.</summary>
    internal const long MaxTokens = 1_000_000_000_000;

    /// <summary>More than any run costs; far below what the nano-USD counters could overflow.</summary>
    internal const decimal MaxUsd = 1_000_000m;

    private const int MaxTitleLength = 200;
    private const int MaxShortText = 100;

    private static readonly JsonSerializerOptions Strict = CreateStrictOptions();

    /// <summary>Parses <paramref name="source"/> and checks its shape, its version and every field.</summary>
    /// <exception cref="SessionImportException">The first problem found, naming the field.</exception>
    public static async Task<SessionExportDocument> ReadAsync(Stream source, CancellationToken cancellationToken)
    {
        JsonDocument json;
        try
        {
            json = await JsonDocument.ParseAsync(source, new JsonDocumentOptions { MaxDepth = 64 }, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" (line {line + 1})" : "";
            throw new SessionImportException($"The file is not a Steward session export: invalid JSON{where}.", ex);
        }

        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("session", out var session) || session.ValueKind != JsonValueKind.Object)
            {
                throw new SessionImportException("The file is not a Steward session export: it has no 'session'.");
            }

            CheckVersion(root);
            foreach (var list in new[] { "messages", "runs" })
            {
                if (!root.TryGetProperty(list, out var value) || value.ValueKind != JsonValueKind.Array)
                {
                    throw new SessionImportException(
                        $"{list}: missing or not a list; an export lists the session's {list} ([] when there are none). Nothing was imported.");
                }
            }

            SessionExportDocument doc;
            try
            {
                doc = root.Deserialize<SessionExportDocument>(Strict)!;
            }
            catch (JsonException ex)
            {
                throw new SessionImportException(DescribeShapeError(root, ex.Path) + " Nothing was imported.", ex);
            }

            Validate(doc);
            return doc;
        }
    }

    /// <summary>Checks every field of a parsed document.</summary>
    /// <exception cref="SessionImportException">The first problem, with how many more there are.</exception>
    public static void Validate(SessionExportDocument doc)
    {
        ArgumentNullException.ThrowIfNull(doc);
        var problems = new List<string>();
        void Add(string path, string problem) => problems.Add($"{path}: {problem}");

        var s = doc.Session;
        if (s.Id == Guid.Empty)
        {
            Add("session.id", "must not be the empty id");
        }

        CheckText(problems, "session.title", s.Title, MaxTitleLength);
        CheckPreset(problems, "session.preset", s.Preset);
        if (s.UpdatedAt < s.CreatedAt)
        {
            Add("session.updated_at", "is before session.created_at");
        }

        var runIds = new Dictionary<Guid, int>();
        for (var i = 0; i < doc.Runs.Count; i++)
        {
            var run = doc.Runs[i];
            var at = $"runs[{i}]";
            if (run.Id == Guid.Empty)
            {
                Add($"{at}.id", "must not be the empty id");
            }
            else if (!runIds.TryAdd(run.Id, i))
            {
                Add($"{at}.id", $"{run.Id} is also the id of runs[{runIds[run.Id]}]; run ids are unique");
            }

            CheckRun(problems, at, run);
        }

        var sequences = new HashSet<int>();
        for (var i = 0; i < doc.Messages.Count; i++)
        {
            var m = doc.Messages[i];
            var at = $"messages[{i}]";
            if (m.Role is not ("user" or "assistant"))
            {
                Add($"{at}.role", $"must be 'user' or 'assistant' (found '{Shown(m.Role)}'); a session's history holds only the questions and answers");
            }

            if (m.Sequence < 0)
            {
                Add($"{at}.sequence", $"must be 0 or more (found {m.Sequence})");
            }
            else if (!sequences.Add(m.Sequence))
            {
                Add($"{at}.sequence", $"{m.Sequence} is used by an earlier message; message sequences are unique");
            }

            if (m.RunId is { } runId && !runIds.ContainsKey(runId))
            {
                Add($"{at}.run_id", $"{runId} is not the id of a run in this export");
            }
        }

        if (problems.Count > 0)
        {
            var more = problems.Count > 1 ? $" (and {problems.Count - 1} more problem{(problems.Count > 2 ? "s" : "")})" : "";
            throw new SessionImportException($"{problems[0]}{more}. Nothing was imported.");
        }
    }

    private static void CheckVersion(JsonElement root)
    {
        var version = root.TryGetProperty("schema_version", out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : (int?)null;
        if (version is not { } found || found < SessionExportDocument.OldestReadableSchemaVersion || found > SessionExportDocument.CurrentSchemaVersion)
        {
            var shown = v.ValueKind == JsonValueKind.Undefined ? "no schema_version" : $"schema_version {v.GetRawText()}";
            throw new SessionImportException(
                $"The export has {shown}; this version of Steward reads versions {SessionExportDocument.OldestReadableSchemaVersion} to {SessionExportDocument.CurrentSchemaVersion}.");
        }
    }

    private static void CheckRun(List<string> problems, string at, ExportedRun run)
    {
        void Add(string field, string problem) => problems.Add($"{at}.{field}: {problem}");

        CheckPreset(problems, $"{at}.preset", run.Preset);
        try
        {
            _ = RunMetadata.Tags(run.Tags);
        }
        catch (ArgumentException ex)
        {
            Add("tags", ex.Message);
        }

        try
        {
            _ = RunMetadata.UserId(run.UserId);
        }
        catch (ArgumentException ex)
        {
            Add("user_id", ex.Message);
        }

        CheckText(problems, $"{at}.preset_version", run.PresetVersion, MaxShortText);
        CheckName(problems, $"{at}.provider", run.Provider, MaxShortText);
        CheckName(problems, $"{at}.model", run.Model, ModelNames.MaxLength);
        if (!Enum.IsDefined(run.Status))
        {
            Add("status", $"is not a run status");
        }
        else if (run.Status == RunStatus.Running)
        {
            Add("status", "is Running; export the session again once the run has ended");
        }

        if (run.EndedAt is { } ended && ended < run.StartedAt)
        {
            Add("ended_at", "is before started_at");
        }

        CheckDuration(problems, $"{at}.duration_ms", run.DurationMs);
        CheckDuration(problems, $"{at}.time_to_first_token_ms", run.TimeToFirstTokenMs);
        CheckUsage(problems, $"{at}.usage", run.Usage);
        CheckCost(problems, $"{at}.cost", run.Cost);
        if (run.Error is { } error)
        {
            CheckText(problems, $"{at}.error.code", error.Code, MaxShortText);
        }

        if (run.TraceId is { } trace && (trace.Length != 32 || !trace.All(char.IsAsciiHexDigitLower)))
        {
            Add("trace_id", $"must be 32 lower-case hexadecimal digits (found '{Shown(trace)}')");
        }

        var events = new HashSet<int>();
        for (var i = 0; i < run.ProgressLog.Count; i++)
        {
            var e = run.ProgressLog[i];
            if (!Enum.IsDefined(e.Stage))
            {
                Add($"progress_log[{i}].stage", "is not a run stage");
            }

            if (!events.Add(e.Sequence))
            {
                Add($"progress_log[{i}].sequence", $"{e.Sequence} is used by an earlier entry; sequences are unique");
            }
        }

        if (run.Evaluations.Count > 1)
        {
            Add("evaluations", $"has {run.Evaluations.Count} evaluations; a run has at most one");
        }

        for (var i = 0; i < run.Evaluations.Count; i++)
        {
            CheckEvaluation(problems, $"{at}.evaluations[{i}]", run.Evaluations[i]);
        }

        if (run.Feedback is { } feedback)
        {
            if (!Enum.IsDefined(feedback.Rating))
            {
                Add("feedback.rating", "must be up or down");
            }

            if (feedback.Comment is { Length: > FeedbackRecord.MaxCommentLength } comment)
            {
                Add("feedback.comment", $"must be at most {FeedbackRecord.MaxCommentLength} characters (found {comment.Length})");
            }

            CheckName(problems, $"{at}.feedback.source", feedback.Source, MaxShortText);
        }
    }

    private static void CheckEvaluation(List<string> problems, string at, ExportedEvaluation e)
    {
        void Add(string field, string problem) => problems.Add($"{at}.{field}: {problem}");

        if (e.Score is < 0 or > 100)
        {
            Add("score", $"must be between 0 and 100 (found {Number(e.Score)})");
        }

        if (e.PassThreshold is < 0 or > 100)
        {
            Add("pass_threshold", $"must be between 0 and 100 (found {Number(e.PassThreshold)})");
        }

        CheckDuration(problems, $"{at}.duration_ms", e.DurationMs);
        CheckText(problems, $"{at}.case_id", e.CaseId, 200);
        if (e.Judge is { } judge)
        {
            CheckName(problems, $"{at}.judge.provider", judge.Provider, MaxShortText);
            CheckName(problems, $"{at}.judge.model", judge.Model, ModelNames.MaxLength);
            CheckUsage(problems, $"{at}.judge.usage", judge.Usage);
            CheckCost(problems, $"{at}.judge.cost", judge.Cost);
        }

        for (var i = 0; i < e.Metrics.Count; i++)
        {
            var m = e.Metrics[i];
            var metric = $"metrics[{i}]";
            if (string.IsNullOrWhiteSpace(m.Name))
            {
                Add($"{metric}.name", "must not be empty");
            }

            CheckText(problems, $"{at}.{metric}.name", m.Name, MaxShortText);
            CheckText(problems, $"{at}.{metric}.evaluator", m.Evaluator, MaxShortText);
            CheckText(problems, $"{at}.{metric}.rating", m.Rating, 20);
            if (m.Weight < 0)
            {
                Add($"{metric}.weight", $"must be 0 or more (found {Number(m.Weight)})");
            }

            if (m.NormalizedScore is < 0 or > 1)
            {
                Add($"{metric}.normalized_score", $"must be between 0 and 1 (found {Number(m.NormalizedScore!.Value)})");
            }
        }
    }

    private static void CheckUsage(List<string> problems, string at, ExportedUsage usage)
    {
        foreach (var (field, value) in new[]
                 {
                     ("input_tokens", usage.InputTokens), ("cached_input_tokens", usage.CachedInputTokens),
                     ("output_tokens", usage.OutputTokens), ("reasoning_tokens", usage.ReasoningTokens),
                 })
        {
            if (value < 0)
            {
                problems.Add($"{at}.{field}: must be 0 or more (found {value})");
            }
            else if (value > MaxTokens)
            {
                problems.Add($"{at}.{field}: must be at most {MaxTokens} (found {value})");
            }
        }

        // Cached input is part of the input and reasoning part of the output: more would be counted twice.
        if (usage.InputTokens >= 0 && usage.CachedInputTokens > usage.InputTokens)
        {
            problems.Add($"{at}.cached_input_tokens: must not exceed input_tokens ({usage.CachedInputTokens} > {usage.InputTokens})");
        }

        if (usage.OutputTokens >= 0 && usage.ReasoningTokens > usage.OutputTokens)
        {
            problems.Add($"{at}.reasoning_tokens: must not exceed output_tokens ({usage.ReasoningTokens} > {usage.OutputTokens})");
        }
    }

    private static void CheckCost(List<string> problems, string at, ExportedCost cost)
    {
        if (!cost.Priced)
        {
            if (cost.Usd is not null)
            {
                problems.Add($"{at}.usd: must be null when priced is false (an unpriced run has no cost, not a cost of {Number(cost.Usd.Value)})");
            }

            return;
        }

        if (cost.Usd is not { } usd)
        {
            problems.Add($"{at}.usd: must be a number when priced is true");
        }
        else if (usd < 0 || usd > MaxUsd)
        {
            problems.Add($"{at}.usd: must be between 0 and {MaxUsd.ToString(CultureInfo.InvariantCulture)} (found {Number(usd)})");
        }
    }

    private static void CheckDuration(List<string> problems, string at, double? value)
    {
        if (value is { } v && (!double.IsFinite(v) || v < 0))
        {
            problems.Add($"{at}: must be 0 or more (found {Number(v)})");
        }
    }

    private static void CheckPreset(List<string> problems, string at, string preset)
    {
        if (!PresetNames.IsValid(preset))
        {
            problems.Add($"{at}: '{Shown(preset)}' is not a preset name (lower-case letters, digits, '_' and '-', at most {PresetNames.MaxLength})");
        }
    }

    private static void CheckName(List<string> problems, string at, string name, int maxLength)
    {
        if (ModelNames.Problem(name) is { } problem)
        {
            problems.Add($"{at}: '{Shown(name)}' {problem}");
        }
        else if (name.Length > maxLength)
        {
            problems.Add($"{at}: must be at most {maxLength} characters (found {name.Length})");
        }
    }

    /// <summary>One line of visible text: labels, ids and codes that are shown as they are.</summary>
    private static void CheckText(List<string> problems, string at, string? text, int maxLength)
    {
        if (text is null)
        {
            return;
        }

        if (text.Length > maxLength)
        {
            problems.Add($"{at}: must be at most {maxLength} characters (found {text.Length})");
        }
        else if (text.FirstOrDefault(char.IsControl) is var c && c != default)
        {
            problems.Add($"{at}: contains the control character U+{(int)c:X4}; it must be one line of visible text");
        }
    }

    /// <summary>Names the field a deserialization error is about and what it must hold, from the document's own types.</summary>
    private static string DescribeShapeError(JsonElement root, string? path)
    {
        var segments = Segments(path);
        var field = Format(segments);
        Type? type = typeof(SessionExportDocument);
        var element = root;
        foreach (var segment in segments)
        {
            type = type is null ? null : segment is int ? ElementType(type) : Strict.GetTypeInfo(type).Properties.FirstOrDefault(p => p.Name == (string)segment)?.PropertyType;
            element = segment is int index
                ? element.ValueKind == JsonValueKind.Array && index < element.GetArrayLength() ? element[index] : default
                : element.ValueKind == JsonValueKind.Object && element.TryGetProperty((string)segment, out var child) ? child : default;
        }

        if (type is null)
        {
            return $"{field}: has a value of the wrong type.";
        }

        if (element.ValueKind == JsonValueKind.Object && Missing(type, element) is { } missing)
        {
            return $"{Format([.. segments, missing])}: missing.";
        }

        var expected = Expected(type);
        return element.ValueKind switch
        {
            JsonValueKind.Null => $"{field}: must be {expected}, not null.",
            JsonValueKind.Undefined => $"{field}: must be {expected}.",
            _ => $"{field}: must be {expected} (found {Shown(element.GetRawText())}).",
        };
    }

    /// <summary>The first member a record needs that the object lacks.</summary>
    private static string? Missing(Type type, JsonElement element) =>
        Strict.GetTypeInfo(type).Properties
            .Where(p => p.IsRequired || p.AssociatedParameter is { HasDefaultValue: false })
            .Select(p => p.Name)
            .FirstOrDefault(name => !element.TryGetProperty(name, out _));

    private static string Expected(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(t));
        }

        return t == typeof(Guid) ? "an id (a GUID such as 0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d90)"
            : t == typeof(DateTimeOffset) ? "a date and time such as 2026-01-31T09:30:00Z"
            : t == typeof(long) || t == typeof(int) ? "a whole number"
            : t == typeof(double) || t == typeof(decimal) ? "a number"
            : t == typeof(bool) ? "true or false"
            : t == typeof(string) ? "a string"
            : ElementType(t) is not null ? "a list"
            : "an object";
    }

    private static Type? ElementType(Type type) =>
        type == typeof(string) ? null
        : type.IsArray ? type.GetElementType()
        : type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];

    /// <summary>Splits <c>$.runs[2].usage['input_tokens']</c> into <c>runs, 2, usage, input_tokens</c>.</summary>
    private static List<object> Segments(string? path)
    {
        var segments = new List<object>();
        if (path is null)
        {
            return segments;
        }

        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(path, @"\.([^.\[]+)|\[(\d+)\]|\['([^']*)'\]"))
        {
            segments.Add(m.Groups[2].Success ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : m.Groups[1].Success ? m.Groups[1].Value : m.Groups[3].Value);
        }

        return segments;
    }

    private static string Format(IEnumerable<object> segments)
    {
        var text = string.Concat(segments.Select(s => s is int i ? $"[{i}]" : "." + s)).TrimStart('.');
        return text.Length == 0 ? "the document" : text;
    }

    private static string Number(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    private static string Number(decimal value) => value.ToString("G", CultureInfo.InvariantCulture);

    private static string Shown(string text) => ModelNames.Shown(text);

    private static JsonSerializerOptions CreateStrictOptions()
    {
        var options = new JsonSerializerOptions(SessionExporter.JsonOptions)
        {
            // A null where the record has no null, or a missing constructor field, is an error with a path, not a null later.
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
        };
        options.Converters.Clear();
        // "status": 7 is not a status, whatever the enum's numbering.
        options.Converters.Add(new JsonStringEnumConverter(allowIntegerValues: false));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
