using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Steward.Telemetry;

/// <summary>Steward's telemetry names, in one place.</summary>
public static class StewardTelemetry
{
    /// <summary>The name of Steward's <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string SourceName = "Steward";

    /// <summary>Microsoft.Extensions.AI's source and meter (<c>chat</c>, <c>execute_tool</c> spans).</summary>
    public const string ChatSourceName = "Experimental.Microsoft.Extensions.AI";

    /// <summary>The Agent Framework's source and meter (<c>invoke_agent</c> spans).</summary>
    public const string AgentSourceName = "Experimental.Microsoft.Agents.AI";

    /// <summary>Every source whose spans Steward exports and stores.</summary>
    public static IReadOnlyList<string> SourceNames { get; } = [SourceName, AgentSourceName, ChatSourceName];

    internal static readonly ActivitySource ActivitySource = new(SourceName);

    /// <summary>
    /// The model as Steward names it in telemetry, stored runs and model calls, the API and <c>/v1/models</c>: a GGUF file
    /// given by path is named by its file name (without <c>.gguf</c>), as the embedded engine's own chat spans name it;
    /// any other model name is returned as is. A path says where the operator keeps files (often a home folder, so a user name),
    /// which has no place in an exported trace, and it would split metrics of one model by where it was loaded from.
    /// </summary>
    public static string? ModelName(string? model) =>
        model is not null && model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)
            ? Path.GetFileNameWithoutExtension(model.Replace('\\', '/'))
            : model;

    // Span names. The run is the root; the others sit beneath it next to the AI libraries' spans.
    internal const string RunActivityName = "agent_run";
    internal const string BudgetCheckActivityName = "check_budget";
    internal const string BudgetSettleActivityName = "settle_budget";
    internal const string EvaluationActivityName = "evaluate";
    internal const string StorageActivityName = "store_run";

    // Steward's own attributes live under steward.*; the GenAI ones follow the OpenTelemetry conventions.
    internal const string PresetAttribute = "steward.preset";
    internal const string SessionAttribute = "steward.session.id";
    internal const string RunAttribute = "steward.run.id";
    internal const string StatusAttribute = "steward.run.status";
    internal const string ErrorCodeAttribute = "steward.run.error";
    internal const string BudgetDecisionAttribute = "steward.budget.decision";
    internal const string BudgetRefusedAttribute = "steward.budget.refused";
    internal const string BudgetScopeAttribute = "steward.budget.scope";
    internal const string CostAttribute = "steward.cost.usd";
    internal const string UnpricedAttribute = "steward.cost.unpriced";
    internal const string FromCacheAttribute = "steward.from_cache";
    internal const string QualityAttribute = "steward.quality.score";
    internal const string StorageOperationAttribute = "steward.storage.operation";
    internal const string TimeToFirstTokenAttribute = "steward.time_to_first_token_ms";
    internal const string StageEventAttribute = "steward.stage";

    internal const string OperationNameAttribute = "gen_ai.operation.name";
    internal const string AgentNameAttribute = "gen_ai.agent.name";
    internal const string ConversationAttribute = "gen_ai.conversation.id";
    internal const string ProviderAttribute = "gen_ai.provider.name";
    internal const string RequestModelAttribute = "gen_ai.request.model";
    internal const string ResponseModelAttribute = "gen_ai.response.model";
    internal const string InputTokensAttribute = "gen_ai.usage.input_tokens";
    internal const string OutputTokensAttribute = "gen_ai.usage.output_tokens";
    internal const string CachedInputTokensAttribute = "gen_ai.usage.cache_read.input_tokens";
    internal const string ReasoningTokensAttribute = "gen_ai.usage.reasoning.output_tokens";
    internal const string TokenTypeAttribute = "gen_ai.token.type";
    internal const string ErrorTypeAttribute = "error.type";
    internal const string OutcomeAttribute = "steward.run.outcome";
    internal const string CallPurposeAttribute = "steward.call.purpose";

    // Metric names.
    internal const string TokenUsageMetric = "steward.tokens";
    internal const string CostMetric = "steward.cost";
    internal const string RunDurationMetric = "steward.run.duration";
    internal const string TimeToFirstTokenMetric = "steward.run.time_to_first_token";
    internal const string RunsMetric = "steward.runs";
    internal const string BudgetUtilizationMetric = "steward.budget.utilization";
    internal const string QualityMetric = "steward.quality.score";
    internal const string TraceStoreDroppedMetric = "steward.trace_store.dropped_spans";
    internal const string TraceStoreWrittenMetric = "steward.trace_store.written_spans";
}
