using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Calls;
using Steward.Evaluation.Judges;
using Steward.Providers;

namespace Steward.Evaluation;

/// <summary>
/// Steward's <see cref="IRunEvaluator"/>: runs the preset's evaluators (heuristics, judges when a judge model is
/// configured, custom ones) concurrently on the delivered answer, weighs their metrics into a quality score, prices
/// the judge's usage apart from the run's, and stores every metric. One evaluator's failure makes its metric
/// inconclusive and is recorded as the evaluation's error; the others still count. Thread-safe.
/// </summary>
internal sealed partial class EvaluationPipeline(
    EvaluatorCatalog catalog, JudgeClients judges, EvaluationStore store, IOptions<EvaluationOptions> options,
    TimeProvider time, ILogger<EvaluationPipeline> logger) : IRunEvaluator
{
    public async Task<QualityResult?> EvaluateAsync(EvaluationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Preset.Evaluators.Count == 0)
        {
            return null;
        }

        var started = time.GetTimestamp();
        var threshold = request.Preset.PassThreshold ?? options.Value.PassThreshold;
        // The judge's calls are governed like any other: budgeted against the answer's preset (or a judge budget), priced,
        // recorded with the evaluation.
        var judgeScope = new ModelCallScope(ModelCallPurpose.Judge) { RunId = request.RunId, SessionId = request.SessionId, Preset = request.Preset };
        QualityResult result;
        try
        {
            result = await ScoreAsync(request, threshold, judgeScope, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is UnknownEvaluatorException or ProviderNotConfiguredException)
        {
            LogEvaluationNotRun(request.RunId, ex.Message);
            result = new QualityResult(0, false, []) { PassThreshold = threshold, Error = ex.Message };
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A defect: the message may hold internals, so the stored reason is generic and the log has the exception.
            LogEvaluationDefect(ex, request.RunId);
            result = new QualityResult(0, false, [])
            {
                PassThreshold = threshold, Error = $"Evaluation failed unexpectedly ({ex.GetType().Name}); details are in the application log.",
            };
        }

        result = result with { Duration = time.GetElapsedTime(started) };
        try
        {
            // The caller may have gone; the evaluation was paid for (judge tokens) and must be kept.
            await store.SaveAsync(request, result, judgeScope.Calls, time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await judgeScope.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return result;
    }

    private async Task<QualityResult> ScoreAsync(EvaluationRequest request, double threshold, ModelCallScope judgeScope, CancellationToken cancellationToken)
    {
        var preset = request.Preset;
        var judgeName = options.Value.Judge;
        var evaluators = catalog.Resolve(preset.Evaluators, judgeName is not null);

        IChatClient? judge = null;
        ResolvedProvider? judgeProvider = null;
        if (judgeName is not null && evaluators.Any(e => e.Evaluator is LlmJudgeEvaluator))
        {
            (judgeProvider, var client) = judges.Get(judgeName);
            judge = client.WithCallScope(judgeScope);
        }

        var expectations = new AnswerExpectations(
            request.Hints?.ExpectedTopics ?? preset.ExpectedTopics, preset.TopicSynonyms, preset.Structure, request.Hints?.ReferenceAnswer);
        EvaluationContext[] contexts = [expectations, new ToolSources(request.ToolResults, request.Citations)];
        ChatMessage[] messages = [new(ChatRole.User, request.Query)];
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, request.Answer));
        var configuration = judge is null ? null : new ChatConfiguration(judge);

        var errors = new List<string>();
        var outcomes = await Task.WhenAll(evaluators.Select(async e =>
        {
            try
            {
                var r = await e.Evaluator.EvaluateAsync(messages, response, configuration, contexts, cancellationToken).ConfigureAwait(false);
                return (e.Name, Metrics: (IEnumerable<EvaluationMetric>)r.Metrics.Values, Error: (string?)null);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogEvaluatorFailed(ex, e.Name, request.RunId);
                var message = $"Evaluator '{e.Name}' failed: {ex.Message}";
                return (e.Name, Metrics: e.Evaluator.EvaluationMetricNames.Select(n => (EvaluationMetric)StewardMetrics.Inconclusive(n, message, message)), Error: message);
            }
        })).ConfigureAwait(false);

        var metrics = new List<QualityMetric>();
        foreach (var (name, evaluated, error) in outcomes)
        {
            if (error is not null)
            {
                errors.Add(error);
            }

            metrics.AddRange(evaluated.Select(m => ToQualityMetric(name, m, preset)));
        }

        if (request.Truncated)
        {
            metrics.Add(new QualityMetric(FinishedMetric, 0, "The answer was cut off at the output cap (finish reason 'length'), so it is incomplete.")
            {
                Evaluator = FinishedMetric, NormalizedScore = 0, Weight = 1, Rating = "Unacceptable", Failed = true,
            });
        }

        var score = QualityScorer.Score(metrics);
        if (score is null)
        {
            errors.Add("No metric was conclusive, so there is no score.");
        }

        EvaluationCost? judgeCost = null;
        if (judge is not null && judgeProvider is not null)
        {
            var calls = judgeScope.Calls;
            judgeCost = new EvaluationCost(judgeProvider.Name, calls.LastOrDefault(c => c.ResponseModel is not null)?.ResponseModel ?? Telemetry.StewardTelemetry.ModelName(judgeProvider.Model)!,
                judgeScope.TotalUsage, calls.Count == 0 ? new RunCost(0m) : judgeScope.TotalCost);
        }

        return new QualityResult(score ?? 0, score >= threshold && !request.Truncated, metrics)
        {
            PassThreshold = threshold,
            JudgeCost = judgeCost,
            Error = errors.Count == 0 ? null : string.Join(" ", errors),
        };
    }

    /// <summary>The metric every evaluation of a cut-off answer gets: whether the model finished it.</summary>
    internal const string FinishedMetric = "finished";

    private static QualityMetric ToQualityMetric(string evaluator, EvaluationMetric metric, AgentPreset preset)
    {
        double? value = metric switch
        {
            NumericMetric n => n.Value,
            BooleanMetric b => b.Value is { } v ? (v ? 1 : 0) : null,
            _ => null,
        };
        var reason = metric.Reason ?? (metric is StringMetric s ? s.Value : null) ?? "";
        return new QualityMetric(metric.Name, value, reason)
        {
            Evaluator = evaluator,
            NormalizedScore = QualityScorer.Normalize(metric),
            Weight = preset.Weights.TryGetValue(metric.Name, out var w) ? w : preset.Weights.TryGetValue(evaluator, out var ew) ? ew : 1,
            Rating = metric.Interpretation?.Rating.ToString(),
            Failed = metric.Interpretation?.Failed ?? false,
            Interpretation = metric.Interpretation?.Reason,
            Diagnostics = metric.Diagnostics?.Select(d => $"{d.Severity}: {d.Message}").ToArray() ?? [],
        };
    }

    [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "Evaluator {Evaluator} failed on run {RunId}; its metrics are inconclusive.")]
    private partial void LogEvaluatorFailed(Exception exception, string evaluator, Guid runId);

    [LoggerMessage(EventId = 1703, Level = LogLevel.Error, Message = "Evaluation of run {RunId} failed unexpectedly.")]
    private partial void LogEvaluationDefect(Exception exception, Guid runId);

    [LoggerMessage(EventId = 1702, Level = LogLevel.Warning, Message = "Run {RunId} was not evaluated: {Reason}")]
    private partial void LogEvaluationNotRun(Guid runId, string reason);
}
