using System.Diagnostics;
using System.Diagnostics.Metrics;
using Steward.Agents;

namespace Steward.Telemetry;

/// <summary>
/// Steward's run-level instruments, and the attributes the run span carries once the outcome is known. One per
/// service provider (its meter comes from the provider's <see cref="IMeterFactory"/>). Thread-safe.
/// </summary>
internal sealed class RunTelemetry
{
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Counter<long> _runs;
    private readonly Histogram<double> _budgetUtilization;
    private readonly Histogram<double> _quality;

    public RunTelemetry(IMeterFactory meters)
    {
        var meter = meters.Create(StewardTelemetry.SourceName);
        _tokens = meter.CreateCounter<long>(StewardTelemetry.TokenUsageMetric, "{token}",
            "Tokens used by model calls, by type (input, cached_input, output, reasoning) and purpose (agent, judge, gateway, eval); cached is part of input, reasoning part of output.");
        _cost = meter.CreateCounter<double>(StewardTelemetry.CostMetric, "USD",
            "What model calls cost, by agent, model and purpose. Unpriced calls add nothing; their runs are counted by steward.runs.");
        _duration = meter.CreateHistogram<double>(StewardTelemetry.RunDurationMetric, "s", "Run duration, from request to stored outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] });
        _timeToFirstToken = meter.CreateHistogram<double>(StewardTelemetry.TimeToFirstTokenMetric, "s", "Time from request to the first answer text.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _runs = meter.CreateCounter<long>(StewardTelemetry.RunsMetric, "{run}", "Runs by outcome (Completed, Failed, Cancelled, BudgetExceeded).");
        _budgetUtilization = meter.CreateHistogram<double>(StewardTelemetry.BudgetUtilizationMetric, "1",
            "Share of a budget's limit in use: spent when a run crosses an alert threshold, spent + reserved + needed when a run is refused.");
        _quality = meter.CreateHistogram<double>(StewardTelemetry.QualityMetric, "1", "Quality score of evaluated answers (0 to 1).");
    }

    /// <summary>Tags the run span with the outcome and records the run's metrics.</summary>
    public void RecordRun(Activity? runActivity, AgentResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var status = response.Status.ToString();
        if (runActivity is not null)
        {
            runActivity.SetTag(StewardTelemetry.StatusAttribute, status);
            if (response.Provider is { } provider)
            {
                runActivity.SetTag(StewardTelemetry.ProviderAttribute, provider);
                runActivity.SetTag(StewardTelemetry.RequestModelAttribute, StewardTelemetry.ModelName(response.Model));
            }

            runActivity.SetTag(StewardTelemetry.InputTokensAttribute, response.Usage.InputTokens);
            runActivity.SetTag(StewardTelemetry.CachedInputTokensAttribute, response.Usage.CachedInputTokens);
            runActivity.SetTag(StewardTelemetry.OutputTokensAttribute, response.Usage.OutputTokens);
            runActivity.SetTag(StewardTelemetry.ReasoningTokensAttribute, response.Usage.ReasoningTokens);
            if (response.Cost.Usd is { } usd)
            {
                runActivity.SetTag(StewardTelemetry.CostAttribute, (double)usd);
            }
            else if (response.Status == RunStatus.Completed)
            {
                runActivity.SetTag(StewardTelemetry.UnpricedAttribute, true);
            }

            if (response.FromCache)
            {
                runActivity.SetTag(StewardTelemetry.FromCacheAttribute, true);
            }

            if (response.TimeToFirstToken is { } ttft)
            {
                runActivity.SetTag(StewardTelemetry.TimeToFirstTokenAttribute, ttft.TotalMilliseconds);
            }

            if (response.Quality is { } quality)
            {
                runActivity.SetTag(StewardTelemetry.QualityAttribute, quality.Score);
            }

            if (response.Error is { } error)
            {
                runActivity.SetTag(StewardTelemetry.ErrorCodeAttribute, error.Code);
                if (response.Status == RunStatus.BudgetExceeded)
                {
                    runActivity.SetTag(StewardTelemetry.BudgetRefusedAttribute, true);
                }
                else if (response.Status == RunStatus.Failed)
                {
                    runActivity.SetTag(StewardTelemetry.ErrorTypeAttribute, error.Code);
                    runActivity.SetStatus(ActivityStatusCode.Error, error.Code);
                }
            }
        }

        var agent = new KeyValuePair<string, object?>(StewardTelemetry.AgentNameAttribute, response.Preset);
        var model = new KeyValuePair<string, object?>(StewardTelemetry.RequestModelAttribute, StewardTelemetry.ModelName(response.Model) ?? "");
        _runs.Add(1, agent, model, new KeyValuePair<string, object?>(StewardTelemetry.OutcomeAttribute, status));
        _duration.Record(response.Duration.TotalSeconds, agent, model, new KeyValuePair<string, object?>(StewardTelemetry.OutcomeAttribute, status));
        if (response.TimeToFirstToken is { } first)
        {
            _timeToFirstToken.Record(first.TotalSeconds, agent, model);
        }

        if (response.Quality is { } score)
        {
            RecordQuality(response.Preset, score);
        }
    }

    /// <summary>Records an answer's quality score once evaluation delivers it.</summary>
    public void RecordQuality(string preset, QualityResult quality)
    {
        ArgumentNullException.ThrowIfNull(quality);
        if (quality.Metrics.Count > 0)
        {
            _quality.Record(quality.Score, new KeyValuePair<string, object?>(StewardTelemetry.AgentNameAttribute, preset));
        }
    }

    /// <summary>Records one model call's tokens and cost.</summary>
    public void RecordModelCall(Calls.ModelCall call, string? preset)
    {
        ArgumentNullException.ThrowIfNull(call);
        var agent = new KeyValuePair<string, object?>(StewardTelemetry.AgentNameAttribute, preset ?? "");
        var model = new KeyValuePair<string, object?>(StewardTelemetry.RequestModelAttribute, StewardTelemetry.ModelName(call.Model) ?? "");
        var purpose = new KeyValuePair<string, object?>(StewardTelemetry.CallPurposeAttribute, Calls.ModelCallStore.PurposeName(call.Purpose));
        AddTokens(call.Usage.InputTokens, "input");
        AddTokens(call.Usage.CachedInputTokens, "cached_input");
        AddTokens(call.Usage.OutputTokens, "output");
        AddTokens(call.Usage.ReasoningTokens, "reasoning");
        if (call.Cost.Usd is { } cost)
        {
            _cost.Add((double)cost, agent, model, purpose);
        }

        void AddTokens(long count, string type)
        {
            if (count > 0)
            {
                _tokens.Add(count, agent, model, purpose, new KeyValuePair<string, object?>(StewardTelemetry.TokenTypeAttribute, type));
            }
        }
    }

    /// <summary>Records how full a budget is (a fraction of its limit).</summary>
    public void RecordBudgetUtilization(string scope, string unit, decimal limit, decimal used)
    {
        if (limit > 0)
        {
            _budgetUtilization.Record((double)(used / limit),
                new KeyValuePair<string, object?>(StewardTelemetry.BudgetScopeAttribute, scope), new KeyValuePair<string, object?>("steward.budget.unit", unit));
        }
    }
}
