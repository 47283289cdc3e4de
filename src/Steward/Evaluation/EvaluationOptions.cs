using Microsoft.Extensions.AI.Evaluation;
using Microsoft.Extensions.Options;

namespace Steward.Evaluation;

/// <summary>Evaluation settings, bound from <c>Steward:Evaluation</c>. Validated at start; every problem is reported together.</summary>
public sealed class EvaluationOptions
{
    /// <summary>
    /// The judge model for LLM-as-judge metrics, as <c>PROVIDER:MODEL</c> (e.g. <c>cloud:gpt-4.1-mini</c>) or
    /// <c>PROVIDER</c> for that provider's default model. <see langword="null"/> (default): no judge, heuristics only.
    /// </summary>
    public string? Judge { get; set; }

    /// <summary>The score (0–100) an answer needs to pass when its preset sets no <c>pass_threshold</c>. Default 70.</summary>
    public double PassThreshold { get; set; } = 70;

    /// <summary>
    /// Custom evaluators by configuration: name → assembly-qualified type name of an <see cref="IEvaluator"/>
    /// (created with dependency injection). Presets list them by name like the built-in ones.
    /// </summary>
    public Dictionary<string, string> Evaluators { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// How many delivered answers are scored at once, in the background, off the request path. Default 2: heuristics are
    /// cheap, and judges are model calls that should not crowd out the agents' own.
    /// </summary>
    public int Concurrency { get; set; } = 2;

    /// <summary>
    /// How many answers may wait to be scored. Beyond it an answer is not scored and its evaluation is recorded as skipped
    /// (and counted), so a burst never makes the process hold an unbounded backlog. Default 1,000.
    /// </summary>
    public int QueueLength { get; set; } = 1000;

    /// <summary>
    /// How long a stopping process keeps scoring what is queued; what is left then is recorded as skipped, never lost
    /// silently. Default 10 seconds.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Splits <see cref="Judge"/> into provider and model (the model may itself contain ':', as Ollama tags do).</summary>
    internal static (string Provider, string? Model) ParseJudge(string judge)
    {
        var separator = judge.IndexOf(':', StringComparison.Ordinal);
        return separator < 0
            ? (judge.Trim(), null)
            : (judge[..separator].Trim(), judge[(separator + 1)..].Trim() is { Length: > 0 } m ? m : null);
    }
}

/// <summary>Checks <see cref="EvaluationOptions"/> once, at start, listing every problem with the key to fix.</summary>
internal sealed class EvaluationOptionsValidator : IValidateOptions<EvaluationOptions>
{
    public ValidateOptionsResult Validate(string? name, EvaluationOptions options)
    {
        var problems = new List<string>();
        if (options.PassThreshold is < 0 or > 100 || double.IsNaN(options.PassThreshold))
        {
            problems.Add("Steward:Evaluation:PassThreshold must be between 0 and 100.");
        }

        if (options.Concurrency is < 1 or > 256)
        {
            problems.Add("Steward:Evaluation:Concurrency must be between 1 and 256.");
        }

        if (options.QueueLength is < 1 or > 1_000_000)
        {
            problems.Add("Steward:Evaluation:QueueLength must be between 1 and 1000000.");
        }

        if (options.DrainTimeout < TimeSpan.Zero || options.DrainTimeout > TimeSpan.FromHours(1))
        {
            problems.Add("Steward:Evaluation:DrainTimeout must be between 00:00:00 and 01:00:00.");
        }

        if (options.Judge is { } judge && (judge.Trim().Length == 0 || EvaluationOptions.ParseJudge(judge).Provider.Length == 0))
        {
            problems.Add($"Steward:Evaluation:Judge '{judge}' must be PROVIDER:MODEL or PROVIDER (a name under Steward:Providers, or 'local').");
        }

        foreach (var (evaluator, typeName) in options.Evaluators)
        {
            if (EvaluatorCatalog.BuiltInNames.Contains(evaluator))
            {
                problems.Add($"Steward:Evaluation:Evaluators:{evaluator} uses a built-in evaluator's name; choose another.");
            }
            else if (Type.GetType(typeName, throwOnError: false) is not { } type)
            {
                problems.Add($"Steward:Evaluation:Evaluators:{evaluator}: type '{typeName}' was not found; give the assembly-qualified name (Namespace.Type, Assembly).");
            }
            else if (!typeof(IEvaluator).IsAssignableFrom(type) || type.IsAbstract)
            {
                problems.Add($"Steward:Evaluation:Evaluators:{evaluator}: type '{typeName}' is not a concrete Microsoft.Extensions.AI.Evaluation.IEvaluator.");
            }
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
