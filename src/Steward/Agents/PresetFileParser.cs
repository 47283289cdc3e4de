using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Steward.Agents;

/// <summary>
/// Turns one preset YAML file into an <see cref="AgentPreset"/>, or a <see cref="PresetLoadException"/> whose message
/// names the file, line and field. Unknown fields are errors: a typo must not silently drop a setting.
/// </summary>
internal static class PresetFileParser
{
    // Unmatched fields are ignored here only because UnknownFields reports every one of them, with the others' problems.
    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .WithDuplicateKeyChecking()
        .IgnoreUnmatchedProperties()
        .Build();

    internal static readonly string[] KnownFields =
    [
        "name", "display_name", "description", "instructions", "provider", "model", "enable_web_search",
        "expected_topics", "evaluators", "topic_synonyms", "weights", "pass_threshold", "structure", "max_output_tokens",
        "temperature", "budget", "web_search", "mcp", "require_approval",
    ];

    private const string StructureFields = "headings, min_sections, lists, max_paragraph_words, min_words, max_words";

    /// <summary>The fields each nested block knows; the keys of <c>topic_synonyms</c>, <c>weights</c>, <c>env</c> and <c>headers</c> are the user's own.</summary>
    private static readonly Dictionary<string, string[]> BlockFields = new(StringComparer.Ordinal)
    {
        ["web_search"] = ["backend", "mode", "max_results", "fetch"],
        ["budget"] = ["max_tokens_per_request", "max_cost_per_request_usd", "max_tokens_per_session", "max_cost_per_session_usd", "daily_cost_usd", "monthly_cost_usd"],
        ["structure"] = StructureFields.Split(", "),
        ["mcp"] = ["name", "command", "args", "env", "url", "headers", "require_approval", "tools"],
    };

    public static AgentPreset Parse(string path, string text)
    {
        var fileName = Path.GetFileName(path);
        var (positions, root) = ReadKeyPositions(text);

        PresetDocument? doc;
        try
        {
            doc = Deserializer.Deserialize<PresetDocument>(text);
        }
        catch (YamlException ex)
        {
            throw Error(path, (int)ex.Start.Line, DescribeYamlError(ex, positions, text), ex);
        }
        catch (InvalidOperationException ex)
        {
            // Some malformed input (e.g. an unclosed flow sequence) makes YamlDotNet's scanner fail without a position.
            throw Error(path, FindSyntaxErrorLine(text), "invalid YAML near here (check brackets, quotes and indentation).", ex);
        }

        if (doc is null)
        {
            throw Error(path, 1, "the file is empty. A preset needs at least 'name', 'display_name' and 'instructions'.");
        }

        // Every problem of the file at once: whoever fixes a preset (in an editor or on the Agents page) should not
        // have to save it once per mistake to find the next one.
        var problems = new Problems(path, positions);
        foreach (var (line, problem) in UnknownFields(root))
        {
            problems.AddAt(line, problem);
        }

        var expectedName = Path.GetFileNameWithoutExtension(path);
        problems.Require("name", doc.Name);
        problems.Require("display_name", doc.DisplayName);
        problems.Require("instructions", doc.Instructions);

        if (!string.IsNullOrWhiteSpace(doc.Name) && !string.Equals(doc.Name, expectedName, StringComparison.Ordinal))
        {
            problems.Add("name", $"field 'name' is '{doc.Name}' but the file is named '{fileName}'. Make them match (name: {expectedName}).");
        }
        else if (!string.IsNullOrWhiteSpace(doc.Name) && !PresetNames.IsValid(doc.Name))
        {
            problems.Add("name", $"field 'name' '{doc.Name}' may contain only lower-case letters, digits, '_' and '-'.");
        }

        foreach (var (field, value) in new[] { ("model", doc.Model), ("provider", doc.Provider) })
        {
            if (value is not null && Providers.ModelNames.Problem(value) is { } problem)
            {
                problems.Add(field, $"field '{field}' '{Providers.ModelNames.Shown(value)}' {problem}.");
            }
        }

        if (doc.MaxOutputTokens is <= 0)
        {
            problems.Add("max_output_tokens", "field 'max_output_tokens' must be a positive number of tokens.");
        }

        if (doc.Temperature is < 0 or > 2)
        {
            problems.Add("temperature", "field 'temperature' must be between 0 and 2.");
        }

        var evaluation = ParseEvaluation(problems, doc);
        var (webSearch, enableWebSearch) = ParseWebSearch(problems, doc);
        var mcp = ParseMcp(problems, doc);

        var budget = doc.Budget ?? new BudgetDocument();
        problems.CheckPositive("max_tokens_per_request", budget.MaxTokensPerRequest);
        problems.CheckPositive("max_cost_per_request_usd", budget.MaxCostPerRequestUsd);
        problems.CheckPositive("max_tokens_per_session", budget.MaxTokensPerSession);
        problems.CheckPositive("max_cost_per_session_usd", budget.MaxCostPerSessionUsd);
        problems.CheckPositive("daily_cost_usd", budget.DailyCostUsd);
        problems.CheckPositive("monthly_cost_usd", budget.MonthlyCostUsd);
        problems.ThrowIfAny();

        return new AgentPreset
        {
            Name = doc.Name!,
            DisplayName = doc.DisplayName!.Trim(),
            Description = doc.Description?.Trim() ?? "",
            Instructions = doc.Instructions!.Trim(),
            Provider = NullIfBlank(doc.Provider),
            Model = NullIfBlank(doc.Model),
            EnableWebSearch = enableWebSearch,
            WebSearch = webSearch,
            McpServers = mcp,
            RequireApproval = Clean(doc.RequireApproval),
            ExpectedTopics = Clean(doc.ExpectedTopics),
            Evaluators = Clean(doc.Evaluators),
            TopicSynonyms = evaluation.Synonyms,
            Weights = evaluation.Weights,
            PassThreshold = doc.PassThreshold,
            Structure = evaluation.Structure,
            MaxOutputTokens = doc.MaxOutputTokens,
            Temperature = doc.Temperature,
            Budget = new PresetBudget
            {
                MaxTokensPerRequest = budget.MaxTokensPerRequest,
                MaxCostPerRequestUsd = budget.MaxCostPerRequestUsd,
                MaxTokensPerSession = budget.MaxTokensPerSession,
                MaxCostPerSessionUsd = budget.MaxCostPerSessionUsd,
                DailyCostUsd = budget.DailyCostUsd,
                MonthlyCostUsd = budget.MonthlyCostUsd,
            },
            SourcePath = path,
            Version = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16],
        };
    }

    private static (PresetWebSearch WebSearch, bool Enabled) ParseWebSearch(Problems problems, PresetDocument doc)
    {
        if (doc.WebSearch is not { } block)
        {
            return (PresetWebSearch.Default, doc.EnableWebSearch ?? false);
        }

        if (doc.EnableWebSearch == false)
        {
            problems.Add("enable_web_search", "enable_web_search is false but a web_search: block is present; remove one of them.");
        }

        var backend = NullIfBlank(block.Backend);
        if (backend is not null && !Tools.WebSearchOptions.Backends.Contains(backend))
        {
            problems.Add("backend", $"web_search: backend '{backend}' is not a backend; use one of {string.Join(", ", Tools.WebSearchOptions.Backends)}.");
        }

        var mode = NullIfBlank(block.Mode);
        if (mode is not null && !Tools.WebSearchOptions.Modes.Contains(mode))
        {
            problems.Add("mode", $"web_search: mode '{mode}' is not a mode; use tool (the model decides) or always (search with the question first).");
        }

        if (block.MaxResults is < 1 or > 20)
        {
            problems.Add("max_results", "web_search: max_results must be between 1 and 20.");
        }

        return (new PresetWebSearch { Backend = backend, Mode = mode, MaxResults = block.MaxResults, Fetch = block.Fetch ?? false }, true);
    }

    private static Tools.Mcp.McpServerSpec[] ParseMcp(Problems problems, PresetDocument doc)
    {
        var servers = new List<Tools.Mcp.McpServerSpec>();
        foreach (var (server, index) in (doc.Mcp ?? []).Select((s, i) => (s, i + 1)))
        {
            if (NullIfBlank(server.Name) is not { } name)
            {
                problems.Add("mcp", $"mcp: server {index} has no 'name'.");
                continue;
            }

            if (!PresetNames.IsValid(name))
            {
                problems.Add("mcp", $"mcp: server name '{name}' may contain only lower-case letters, digits, '_' and '-'.");
            }

            if (servers.Any(s => s.Name == name))
            {
                problems.Add("mcp", $"mcp: two servers are named '{name}'.");
            }

            var command = NullIfBlank(server.Command);
            var url = NullIfBlank(server.Url);
            if ((command is null) == (url is null))
            {
                problems.Add("mcp", $"mcp: server '{name}' needs either 'command' (a program speaking MCP on stdio) or 'url' (a streamable-HTTP endpoint), not {(command is null ? "neither" : "both")}.");
            }

            Uri? endpoint = null;
            if (url is not null && (!Uri.TryCreate(url, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https")))
            {
                problems.Add("mcp", $"mcp: server '{name}' url '{url}' is not an http(s) URL.");
            }

            if (command is not null && server.Headers is { Count: > 0 })
            {
                problems.Add("mcp", $"mcp: server '{name}' has headers, which only a 'url' server sends; use env for a command.");
            }

            servers.Add(new Tools.Mcp.McpServerSpec
            {
                Name = name, Command = command, Args = server.Args ?? [], Env = server.Env ?? [], Url = endpoint, Headers = server.Headers ?? [],
                RequireApproval = server.RequireApproval ?? false, Tools = Clean(server.Tools),
            });
        }

        return [.. servers];
    }

    private static (Dictionary<string, IReadOnlyList<string>> Synonyms, Dictionary<string, double> Weights, Evaluation.StructureExpectations Structure) ParseEvaluation(
        Problems problems, PresetDocument doc)
    {
        var topics = Clean(doc.ExpectedTopics);
        var synonyms = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (topic, words) in doc.TopicSynonyms ?? [])
        {
            if (!topics.Contains(topic.Trim(), StringComparer.Ordinal))
            {
                problems.Add("topic_synonyms",
                    $"topic_synonyms has '{topic}', which is not in expected_topics ({string.Join(", ", topics)}). Add it there or fix the spelling.");
            }

            synonyms[topic.Trim()] = Clean(words);
        }

        var evaluators = Clean(doc.Evaluators);
        var weights = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (metric, weight) in doc.Weights ?? [])
        {
            var name = metric.Trim();
            if (weight < 0 || double.IsNaN(weight) || double.IsInfinity(weight))
            {
                problems.Add("weights", $"weights: '{name}' must be zero or more (0 keeps the metric out of the score).");
            }

            if (!Evaluation.EvaluatorCatalog.BuiltInMetricNames.Contains(name) && !evaluators.Contains(name, StringComparer.Ordinal))
            {
                problems.Add("weights",
                    $"weights names '{name}', which is neither a built-in metric ({string.Join(", ", Evaluation.EvaluatorCatalog.BuiltInMetricNames.Order(StringComparer.Ordinal))}) nor listed under evaluators.");
            }

            weights[name] = weight;
        }

        if (doc.PassThreshold is < 0 or > 100)
        {
            problems.Add("pass_threshold", "field 'pass_threshold' must be a score between 0 and 100.");
        }

        var s = doc.Structure;
        var structure = Evaluation.StructureExpectations.Default;
        if (s is not null)
        {
            CheckStructure(problems, "min_sections", s.MinSections);
            CheckStructure(problems, "max_paragraph_words", s.MaxParagraphWords);
            CheckStructure(problems, "min_words", s.MinWords);
            CheckStructure(problems, "max_words", s.MaxWords);
            if (s.MinWords is { } min && s.MaxWords is { } max && max < min)
            {
                problems.Add("max_words", "structure: 'max_words' must not be less than 'min_words'.");
            }

            structure = new Evaluation.StructureExpectations
            {
                Headings = s.Headings,
                MinSections = s.MinSections,
                Lists = s.Lists,
                MaxParagraphWords = s.MaxParagraphWords ?? Evaluation.StructureExpectations.Default.MaxParagraphWords,
                MinWords = s.MinWords,
                MaxWords = s.MaxWords,
            };
        }

        return (synonyms, weights, structure);
    }

    private static void CheckStructure(Problems problems, string field, int? value)
    {
        if (value is <= 0)
        {
            problems.Add(field, $"structure field '{field}' must be a positive number (remove it for no expectation).");
        }
    }

    /// <summary>Each key's line (the first, for a key used in several blocks) and the parsed root, read once for every check.</summary>
    private static (Dictionary<string, int> Positions, YamlMappingNode? Root) ReadKeyPositions(string text)
    {
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (Exception ex) when (ex is YamlException or InvalidOperationException)
        {
            // The deserializer meets the same syntax error and reports it; let it.
            return (positions, null);
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            return (positions, null);
        }

        positions["$root"] = (int)root.Start.Line;
        Collect(root);
        return (positions, root);

        void Collect(YamlMappingNode mapping)
        {
            foreach (var (key, value) in mapping.Children)
            {
                if (key is YamlScalarNode { Value: { } name })
                {
                    positions.TryAdd(name, (int)key.Start.Line);
                }

                if (value is YamlMappingNode nested)
                {
                    Collect(nested);
                }
            }
        }
    }

    private static IEnumerable<(int Line, string Problem)> UnknownFields(YamlMappingNode? root)
    {
        if (root is null)
        {
            yield break;
        }

        foreach (var (key, value) in root.Children)
        {
            if (key is not YamlScalarNode { Value: { } name })
            {
                continue;
            }

            if (!KnownFields.Contains(name, StringComparer.Ordinal))
            {
                yield return ((int)key.Start.Line, $"unknown field '{name}'. Known fields: {string.Join(", ", KnownFields)}.");
                continue;
            }

            if (!BlockFields.TryGetValue(name, out var known))
            {
                continue;
            }

            var blocks = value switch
            {
                YamlMappingNode one => [one],
                YamlSequenceNode many => many.Children.OfType<YamlMappingNode>().ToArray(),
                _ => Array.Empty<YamlMappingNode>(),
            };
            foreach (var field in blocks.SelectMany(b => b.Children.Keys).OfType<YamlScalarNode>())
            {
                if (field.Value is { } inner && !known.Contains(inner, StringComparer.Ordinal))
                {
                    yield return ((int)field.Start.Line, $"{name}: unknown field '{inner}'. Known fields: {string.Join(", ", known)}.");
                }
            }
        }
    }

    private static int FindSyntaxErrorLine(string text)
    {
        var parser = new Parser(new StringReader(text));
        var line = 1;
        try
        {
            while (parser.MoveNext())
            {
                line = (int)(parser.Current?.End.Line ?? line);
            }
        }
        catch (Exception ex) when (ex is YamlException or InvalidOperationException)
        {
            return ex is YamlException y ? (int)y.Start.Line : line;
        }

        return line;
    }

    private static string DescribeYamlError(YamlException ex, Dictionary<string, int> positions, string text)
    {
        var message = (ex.InnerException?.Message ?? ex.Message).Trim();
        if (ex is not (SyntaxErrorException or SemanticErrorException))
        {
            var line = (int)ex.Start.Line;
            var field = positions.Where(p => p.Value <= line && p.Key != "$root").OrderByDescending(p => p.Value).Select(p => p.Key).FirstOrDefault()
                ?? FieldAtOrAbove(text, line);
            if (message.Contains("Duplicate key", StringComparison.OrdinalIgnoreCase))
            {
                return $"field '{FieldAtOrAbove(text, line) ?? field}' is given twice; keep one.";
            }

            // A value of the wrong shape (text where a number goes, a list where text goes): YamlDotNet words it in .NET
            // type names, so it is said in the preset's words, the field at that place and what that field takes.
            var wrongShape = ex.InnerException is FormatException or InvalidCastException or OverflowException
                || message.Contains("No node deserializer", StringComparison.Ordinal) || message.Contains("Invalid cast", StringComparison.Ordinal);
            if (wrongShape && field is not null && Shape(field) is { } shape)
            {
                return $"field '{field}' should be {shape}.";
            }
        }

        return message.StartsWith("Exception during deserialization", StringComparison.Ordinal) && ex.InnerException is { } inner
            ? $"invalid value: {inner.Message}"
            : $"invalid YAML: {message}";
    }

    private static readonly Type[] DocumentTypes = [typeof(PresetDocument), typeof(WebSearchDocument), typeof(BudgetDocument), typeof(StructureDocument), typeof(McpDocument)];

    /// <summary>What a field takes, in words, from the property it binds to.</summary>
    private static string? Shape(string field)
    {
        var property = string.Concat(field.Split('_').Select(w => w.Length == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..]));
        var type = DocumentTypes.Select(t => t.GetProperty(property)?.PropertyType).FirstOrDefault(t => t is not null);
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            null => null,
            _ when type == typeof(string) => "text",
            _ when type == typeof(int) || type == typeof(long) => "a whole number",
            _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a number",
            _ when type == typeof(bool) => "true or false",
            _ when type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) => "a list (one '- item' per line, or [a, b])",
            _ => "a block of 'name: value' lines",
        };
    }

    /// <summary>The key of the line, or the nearest line above it, that starts one (<c>name:</c>), for a file too broken for YAML to say where its keys are.</summary>
    private static string? FieldAtOrAbove(string text, int line)
    {
        var lines = text.Split('\n');
        for (var i = Math.Min(line, lines.Length) - 1; i >= 0; i--)
        {
            var content = lines[i].TrimStart(' ', '-');
            var colon = content.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && content[..colon].All(c => char.IsAsciiLetterLower(c) || c == '_'))
            {
                return content[..colon];
            }
        }

        return null;
    }

    private static PresetLoadException Error(string path, int line, string problem, Exception? inner = null)
    {
        var message = string.Create(CultureInfo.InvariantCulture, $"{path}, line {line}: {problem}");
        return inner is null
            ? new PresetLoadException(message) { FilePath = path, Line = line }
            : new PresetLoadException(message, inner) { FilePath = path, Line = line };
    }

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static string[] Clean(List<string>? values) =>
        values?.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v.Trim()).ToArray() ?? [];

    /// <summary>The problems of one file, each at the line of the field it is about, in the order of the file.</summary>
    private sealed class Problems(string path, Dictionary<string, int> positions)
    {
        private readonly List<(int Line, string Problem)> _found = [];

        public void Add(string field, string problem) => _found.Add((Line(field), problem));

        public void AddAt(int line, string problem) => _found.Add((line, problem));

        public void Require(string field, string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                Add(field, $"required field '{field}' {(positions.ContainsKey(field) ? "is empty" : "is missing")}.");
            }
        }

        public void CheckPositive<T>(string field, T? value)
            where T : struct, IComparable<T>
        {
            if (value is { } v && v.CompareTo(default) <= 0)
            {
                Add(field, $"budget field '{field}' must be greater than zero (remove it for no limit).");
            }
        }

        public void ThrowIfAny()
        {
            if (_found.Count == 0)
            {
                return;
            }

            var ordered = _found.Distinct().OrderBy(p => p.Line).ToList();
            if (ordered.Count == 1)
            {
                throw Error(path, ordered[0].Line, ordered[0].Problem);
            }

            var lines = string.Join(Environment.NewLine, ordered.Select(p => string.Create(CultureInfo.InvariantCulture, $"  line {p.Line}: {p.Problem}")));
            throw new PresetLoadException(string.Create(CultureInfo.InvariantCulture, $"{path}: {ordered.Count} problems:{Environment.NewLine}{lines}"))
            {
                FilePath = path,
                Line = ordered[0].Line,
                Problems = [.. ordered.Select(p => new PresetFieldProblem(p.Line, p.Problem))],
            };
        }

        private int Line(string field) => positions.TryGetValue(field, out var line) ? line : positions.GetValueOrDefault("$root", 1);
    }
}

// YamlDotNet needs mutable public-shaped types to bind to; they stay inside this assembly.
#pragma warning disable CA1812 // instantiated by YamlDotNet
internal sealed class PresetDocument
{
    public string? Name { get; set; }
    public string? DisplayName { get; set; }
    public string? Description { get; set; }
    public string? Instructions { get; set; }
    public string? Provider { get; set; }
    public string? Model { get; set; }
    public bool? EnableWebSearch { get; set; }
    public List<string>? ExpectedTopics { get; set; }
    public List<string>? Evaluators { get; set; }
    public Dictionary<string, List<string>>? TopicSynonyms { get; set; }
    public Dictionary<string, double>? Weights { get; set; }
    public double? PassThreshold { get; set; }
    public StructureDocument? Structure { get; set; }
    public int? MaxOutputTokens { get; set; }
    public float? Temperature { get; set; }
    public BudgetDocument? Budget { get; set; }
    public WebSearchDocument? WebSearch { get; set; }
    public List<McpDocument>? Mcp { get; set; }
    public List<string>? RequireApproval { get; set; }
}

internal sealed class WebSearchDocument
{
    public string? Backend { get; set; }
    public string? Mode { get; set; }
    public int? MaxResults { get; set; }
    public bool? Fetch { get; set; }
}

internal sealed class McpDocument
{
    public string? Name { get; set; }
    public string? Command { get; set; }
    public List<string>? Args { get; set; }
    public Dictionary<string, string>? Env { get; set; }
    public string? Url { get; set; }
    public Dictionary<string, string>? Headers { get; set; }
    public bool? RequireApproval { get; set; }
    public List<string>? Tools { get; set; }
}

internal sealed class StructureDocument
{
    public bool? Headings { get; set; }
    public int? MinSections { get; set; }
    public bool? Lists { get; set; }
    public int? MaxParagraphWords { get; set; }
    public int? MinWords { get; set; }
    public int? MaxWords { get; set; }
}

internal sealed class BudgetDocument
{
    public long? MaxTokensPerRequest { get; set; }
    public decimal? MaxCostPerRequestUsd { get; set; }
    public long? MaxTokensPerSession { get; set; }
    public decimal? MaxCostPerSessionUsd { get; set; }
    public decimal? DailyCostUsd { get; set; }
    public decimal? MonthlyCostUsd { get; set; }
}
#pragma warning restore CA1812
