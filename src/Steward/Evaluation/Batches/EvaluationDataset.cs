using System.Globalization;
using System.Text.Json;

namespace Steward.Evaluation.Batches;

/// <summary>One case of a dataset: a question and what a good answer covers.</summary>
/// <param name="Id">The case's id (<c>id</c>, else <c>line-N</c>); stable ids let runs be compared case by case.</param>
/// <param name="Question">What the agent is asked.</param>
/// <param name="ExpectedTopics">Topics a good answer covers; <see langword="null"/> uses the preset's.</param>
/// <param name="ReferenceAnswer">A known good answer, for the judges; optional.</param>
/// <param name="Tags">Free labels for slicing results.</param>
public sealed record EvaluationCase(string Id, string Question, IReadOnlyList<string>? ExpectedTopics, string? ReferenceAnswer, IReadOnlyList<string> Tags);

/// <summary>A dataset file that cannot be read, naming the file and line.</summary>
public sealed class EvaluationDatasetException : Exception
{
    public EvaluationDatasetException(string message) : base(message) { }

    public EvaluationDatasetException() { }

    public EvaluationDatasetException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// Reads a JSONL dataset: one JSON object per line with <c>question</c> (required), <c>id</c>,
/// <c>expected_topics</c>, <c>reference_answer</c> and <c>tags</c>. Blank lines are skipped; anything else that is
/// wrong (invalid JSON, an unknown field, a duplicate id) is an error naming the file and line.
/// </summary>
public static class EvaluationDataset
{
    private static readonly string[] KnownFields = ["id", "question", "expected_topics", "reference_answer", "tags"];

    /// <summary>Reads the dataset at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="EvaluationDatasetException">The file is not a valid dataset.</exception>
    public static async Task<IReadOnlyList<EvaluationCase>> LoadAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Dataset not found: {path}", path);
        }

        var lines = await File.ReadAllLinesAsync(path, cancellationToken).ConfigureAwait(false);
        return Parse(Path.GetFileName(path), lines);
    }

    /// <summary>Parses dataset lines; <paramref name="name"/> names the source in errors.</summary>
    public static IReadOnlyList<EvaluationCase> Parse(string name, IReadOnlyList<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var cases = new List<EvaluationCase>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            var number = i + 1;
            if (line.Length == 0)
            {
                continue;
            }

            var item = ParseLine(name, number, line);
            if (ids.TryGetValue(item.Id, out var first))
            {
                throw Error(name, number, $"id '{item.Id}' is already used on line {first}; ids must be unique.");
            }

            ids[item.Id] = number;
            cases.Add(item);
        }

        return cases.Count > 0 ? cases : throw new EvaluationDatasetException($"{name}: the dataset has no cases. Write one JSON object per line, e.g. {{\"question\": \"…\", \"expected_topics\": [\"…\"]}}.");
    }

    private static EvaluationCase ParseLine(string name, int number, string line)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            throw Error(name, number, $"invalid JSON ({ex.Message.Split('.')[0]}). Each line must be one JSON object.", ex);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Error(name, number, "expected a JSON object with at least a 'question'.");
            }

            foreach (var property in root.EnumerateObject())
            {
                if (!KnownFields.Contains(property.Name, StringComparer.Ordinal))
                {
                    throw Error(name, number, $"unknown field '{property.Name}'. Known fields: {string.Join(", ", KnownFields)}.");
                }
            }

            var question = String(name, number, root, "question");
            if (string.IsNullOrWhiteSpace(question))
            {
                throw Error(name, number, "'question' is missing or empty.");
            }

            var id = String(name, number, root, "id") is { Length: > 0 } given ? given.Trim() : string.Create(CultureInfo.InvariantCulture, $"line-{number}");
            return new EvaluationCase(id, question.Trim(), root.TryGetProperty("expected_topics", out _) ? Strings(name, number, root, "expected_topics") : null,
                String(name, number, root, "reference_answer"), Strings(name, number, root, "tags"));
        }
    }

    private static string? String(string name, int number, JsonElement root, string field) =>
        !root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw Error(name, number, $"'{field}' must be a string.");

    private static string[] Strings(string name, int number, JsonElement root, string field)
    {
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
        {
            throw Error(name, number, $"'{field}' must be a list of strings.");
        }

        return value.EnumerateArray().Select(v => v.GetString()!.Trim()).Where(v => v.Length > 0).ToArray();
    }

    private static EvaluationDatasetException Error(string name, int line, string problem, Exception? inner = null)
    {
        var message = string.Create(CultureInfo.InvariantCulture, $"{name}, line {line}: {problem}");
        return inner is null ? new EvaluationDatasetException(message) : new EvaluationDatasetException(message, inner);
    }
}
