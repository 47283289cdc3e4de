using Microsoft.Extensions.AI.Evaluation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Steward.Evaluation.Heuristics;
using Steward.Evaluation.Judges;

namespace Steward.Evaluation;

/// <summary>A custom evaluator registered in code with <see cref="EvaluationServiceCollectionExtensions.AddStewardEvaluator(Microsoft.Extensions.DependencyInjection.IServiceCollection, string, Func{IServiceProvider, IEvaluator})"/>.</summary>
/// <param name="Name">The name presets list it by.</param>
/// <param name="Create">Creates it once, from the application's services.</param>
public sealed record EvaluatorRegistration(string Name, Func<IServiceProvider, IEvaluator> Create);

/// <summary>A preset names an evaluator no one registered.</summary>
public sealed class UnknownEvaluatorException : Exception
{
    public UnknownEvaluatorException(string message) : base(message) { }

    public UnknownEvaluatorException() { }

    public UnknownEvaluatorException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// Every evaluator by the name presets use: the built-in heuristics and judges, and custom ones registered in code or
/// configuration. <c>judge</c> stands for all four judges. Evaluators are created once and shared (they are stateless).
/// </summary>
internal sealed class EvaluatorCatalog
{
    public const string AllJudges = "judge";

    private static readonly Dictionary<string, Func<IEvaluator>> BuiltIns = new(StringComparer.Ordinal)
    {
        [TopicCoverageEvaluator.MetricName] = () => new TopicCoverageEvaluator(),
        [CitationEvaluator.MetricName] = () => new CitationEvaluator(),
        [StructureEvaluator.MetricName] = () => new StructureEvaluator(),
        [LengthEvaluator.MetricName] = () => new LengthEvaluator(),
        [ReadabilityEvaluator.MetricName] = () => new ReadabilityEvaluator(),
        [RefusalEvaluator.RefusalMetric] = () => new RefusalEvaluator(),
        [JudgeRubric.Relevance.Name] = () => new LlmJudgeEvaluator(JudgeRubric.Relevance),
        [JudgeRubric.Coherence.Name] = () => new LlmJudgeEvaluator(JudgeRubric.Coherence),
        [JudgeRubric.Groundedness.Name] = () => new LlmJudgeEvaluator(JudgeRubric.Groundedness),
        [JudgeRubric.Completeness.Name] = () => new LlmJudgeEvaluator(JudgeRubric.Completeness),
    };

    private readonly Dictionary<string, IEvaluator> _evaluators;

    public EvaluatorCatalog(IEnumerable<EvaluatorRegistration> registrations, IOptions<EvaluationOptions> options, IServiceProvider services)
    {
        _evaluators = BuiltIns.ToDictionary(b => b.Key, b => b.Value(), StringComparer.Ordinal);
        foreach (var (name, typeName) in options.Value.Evaluators)
        {
            _evaluators[name] = (IEvaluator)ActivatorUtilities.CreateInstance(services, Type.GetType(typeName, throwOnError: true)!);
        }

        // Registered in code last, so code can replace a configured one of the same name.
        foreach (var registration in registrations)
        {
            _evaluators[registration.Name] = registration.Create(services);
        }
    }

    /// <summary>The names of the built-in evaluators, and <c>judge</c>.</summary>
    public static IReadOnlySet<string> BuiltInNames { get; } = BuiltIns.Keys.Append(AllJudges).ToHashSet(StringComparer.Ordinal);

    /// <summary>Metric names the built-in evaluators produce (the refusal evaluator also reports <c>hedging</c>).</summary>
    public static IReadOnlySet<string> BuiltInMetricNames { get; } = BuiltIns.Keys.Append(RefusalEvaluator.HedgingMetric).ToHashSet(StringComparer.Ordinal);

    public static IReadOnlySet<string> JudgeNames { get; } = JudgeRubric.All.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);

    public IEnumerable<string> Names => _evaluators.Keys.Append(AllJudges).Order(StringComparer.Ordinal);

    /// <summary>
    /// The evaluators a preset asks for. When a judge is configured and the preset lists no judge, all four judges are
    /// added: configuring a judge turns LLM-as-judge on everywhere evaluation runs.
    /// </summary>
    /// <exception cref="UnknownEvaluatorException">A name is not registered.</exception>
    public IReadOnlyList<(string Name, IEvaluator Evaluator)> Resolve(IReadOnlyList<string> names, bool judgeConfigured)
    {
        var chosen = new List<string>();
        foreach (var name in names)
        {
            if (name == AllJudges)
            {
                chosen.AddRange(JudgeNames);
            }
            else if (_evaluators.ContainsKey(name))
            {
                chosen.Add(name);
            }
            else
            {
                throw new UnknownEvaluatorException(
                    $"The preset names an unknown evaluator '{name}'. Known: {string.Join(", ", Names)}. Register custom ones under Steward:Evaluation:Evaluators or with AddStewardEvaluator.");
            }
        }

        if (judgeConfigured && !chosen.Any(JudgeNames.Contains))
        {
            chosen.AddRange(JudgeNames);
        }

        return chosen.Distinct(StringComparer.Ordinal).Select(n => (n, _evaluators[n])).ToArray();
    }
}
