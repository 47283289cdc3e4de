namespace Steward.Agents;

/// <summary>
/// An agent preset as loaded from <c>agents/NAME.yaml</c>: who the agent is and how it runs.
/// Immutable; an edited file produces a new instance with a new <see cref="Version"/>.
/// </summary>
public sealed record AgentPreset
{
    /// <summary>Stable identifier, matching the file name (e.g. <c>market_analyst</c>).</summary>
    public required string Name { get; init; }

    /// <summary>Name shown to people.</summary>
    public required string DisplayName { get; init; }

    /// <summary>One-line description for pickers; may be empty.</summary>
    public string Description { get; init; } = "";

    /// <summary>The system instructions given to the model.</summary>
    public required string Instructions { get; init; }

    /// <summary>Provider name to use instead of the configured default; <see langword="null"/> means the default.</summary>
    public string? Provider { get; init; }

    /// <summary>Model (or deployment) to use instead of the provider's default.</summary>
    public string? Model { get; init; }

    /// <summary>Whether the agent searches: <c>enable_web_search: true</c>, or a <c>web_search:</c> block.</summary>
    public bool EnableWebSearch { get; init; }

    /// <summary>The preset's own search backend and mode (its <c>web_search:</c> block); unset keys use <c>Steward:WebSearch</c>.</summary>
    public PresetWebSearch WebSearch { get; init; } = PresetWebSearch.Default;

    /// <summary>MCP servers whose tools join the agent's (<c>mcp:</c>).</summary>
    public IReadOnlyList<Tools.Mcp.McpServerSpec> McpServers { get; init; } = [];

    /// <summary>Tools (by name) whose every call needs a person's approval (<c>require_approval:</c>).</summary>
    public IReadOnlyList<string> RequireApproval { get; init; } = [];

    /// <summary>Topics a good answer is expected to cover; used by evaluation.</summary>
    public IReadOnlyList<string> ExpectedTopics { get; init; } = [];

    /// <summary>Evaluator names to run on each answer.</summary>
    public IReadOnlyList<string> Evaluators { get; init; } = [];

    /// <summary>Other words or phrases that count as covering an expected topic, by topic.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> TopicSynonyms { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Weight of each metric (or evaluator) in the quality score; unlisted ones weigh 1.</summary>
    public IReadOnlyDictionary<string, double> Weights { get; init; } = new Dictionary<string, double>();

    /// <summary>The quality score (0–100) an answer needs to pass; <see langword="null"/> uses Steward:Evaluation:PassThreshold.</summary>
    public double? PassThreshold { get; init; }

    /// <summary>How answers should be laid out, for the structure and length evaluators.</summary>
    public Evaluation.StructureExpectations Structure { get; init; } = Evaluation.StructureExpectations.Default;

    /// <summary>Output cap per answer; <see langword="null"/> leaves it to the provider.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>Sampling temperature; <see langword="null"/> leaves it to the provider.</summary>
    public float? Temperature { get; init; }

    /// <summary>Budget limits declared by the preset.</summary>
    public PresetBudget Budget { get; init; } = PresetBudget.None;

    /// <summary>The file the preset was read from.</summary>
    public required string SourcePath { get; init; }

    /// <summary>A hash of the file's content; changes whenever the file does.</summary>
    public required string Version { get; init; }
}

/// <summary>Budget limits a preset declares; each becomes a hard budget policy for the preset. Every limit is optional.</summary>
public sealed record PresetBudget
{
    /// <summary>No limits.</summary>
    public static PresetBudget None { get; } = new();

    /// <summary>Most tokens (prompt plus output cap) one request may use.</summary>
    public long? MaxTokensPerRequest { get; init; }

    /// <summary>Most USD one request may cost (worst case).</summary>
    public decimal? MaxCostPerRequestUsd { get; init; }

    /// <summary>Most tokens one session may use in total.</summary>
    public long? MaxTokensPerSession { get; init; }

    /// <summary>Most USD one session may cost in total.</summary>
    public decimal? MaxCostPerSessionUsd { get; init; }

    /// <summary>Most USD the preset may cost per day (budget time zone).</summary>
    public decimal? DailyCostUsd { get; init; }

    /// <summary>Most USD the preset may cost per month (budget time zone).</summary>
    public decimal? MonthlyCostUsd { get; init; }
}

/// <summary>A preset's <c>web_search:</c> block; what it leaves out comes from <c>Steward:WebSearch</c>.</summary>
public sealed record PresetWebSearch
{
    /// <summary>Nothing set.</summary>
    public static PresetWebSearch Default { get; } = new();

    /// <summary><c>corpus</c>, <c>searxng</c>, <c>brave</c>, <c>tavily</c> or <c>hosted</c>.</summary>
    public string? Backend { get; init; }

    /// <summary><c>tool</c> or <c>always</c>.</summary>
    public string? Mode { get; init; }

    /// <summary>Results per search.</summary>
    public int? MaxResults { get; init; }

    /// <summary>Also offer <c>web_fetch</c>, which reads a result's page (tool mode only).</summary>
    public bool Fetch { get; init; }
}
