using System.Globalization;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;
using Steward.Providers;

namespace Steward.Evaluation.Judges;

/// <summary>
/// One LLM-as-judge metric (relevance, coherence, groundedness or completeness): the judge model named by
/// <see cref="ChatConfiguration"/> reads the question, the answer and, where the rubric needs them, the sources or
/// reference answer, and replies with a JSON verdict (score 1–5 and a reason). A reply that is not a verdict, or a
/// judge that fails, makes the metric inconclusive with a diagnostic; it never throws for those.
/// </summary>
internal sealed class LlmJudgeEvaluator(JudgeRubric rubric) : IEvaluator
{
    /// <summary>Longest text of one source handed to the judge; long tool results would drown the rubric.</summary>
    private const int MaxSourceCharacters = 4000;

    public IReadOnlyCollection<string> EvaluationMetricNames { get; } = [rubric.Name];

    public JudgeRubric Rubric => rubric;

    public async ValueTask<EvaluationResult> EvaluateAsync(
        IEnumerable<ChatMessage> messages, ChatResponse modelResponse, ChatConfiguration? chatConfiguration = null,
        IEnumerable<EvaluationContext>? additionalContext = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(modelResponse);
        if (chatConfiguration is null)
        {
            return new EvaluationResult(StewardMetrics.Inconclusive(rubric.Name,
                "No judge model is configured: set Steward:Evaluation:Judge (PROVIDER:MODEL) or pass --judge."));
        }

        var contexts = additionalContext?.ToArray() ?? [];
        var expectations = contexts.OfType<AnswerExpectations>().FirstOrDefault();
        var sources = contexts.OfType<ToolSources>().FirstOrDefault();
        var question = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
        var hasSources = sources is { Results.Count: > 0 } || expectations?.ReferenceAnswer is not null;
        if (rubric.NeedsSources && !hasSources)
        {
            return new EvaluationResult(StewardMetrics.Inconclusive(rubric.Name,
                "Nothing to judge groundedness against: the run used no tools and the case has no reference answer."));
        }

        var prompt = BuildPrompt(question, modelResponse.Text, expectations, sources);
        var options = new ChatOptions
        {
            Instructions = Instructions(),
            Temperature = 0,
            MaxOutputTokens = 400,
            ResponseFormat = ChatResponseFormat.ForJsonSchema(JudgeVerdict.Schema, "verdict", "A score from 1 to 5 and a reason."),
        };

        ChatResponse reply;
        try
        {
            reply = await chatConfiguration.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], options, cancellationToken).ConfigureAwait(false);
        }
        catch (ProviderException ex)
        {
            return new EvaluationResult(StewardMetrics.Inconclusive(rubric.Name,
                "The judge model could not be asked.", $"The judge call failed: {ex.Message}"));
        }
        catch (Budgets.BudgetExceededException ex)
        {
            // A budget doing its job, not an evaluator failing: the verdict is left out, said why, and nothing is logged as a fault.
            return new EvaluationResult(StewardMetrics.Inconclusive(rubric.Name,
                "A budget refused the judge call, so this was not judged.", $"The judge call was not sent: {ex.Message}"));
        }

        NumericMetric metric;
        if (JudgeVerdict.TryParse(reply.Text, out var verdict, out var problem))
        {
            metric = StewardMetrics.Numeric(rubric.Name, verdict!.Score, (verdict.Score - 1) / 4.0, verdict.Reason, failBelow: 0.5);
        }
        else
        {
            var excerpt = reply.Text.Length <= 80 ? reply.Text : reply.Text[..80] + "…";
            metric = StewardMetrics.Inconclusive(rubric.Name, $"The judge's verdict could not be read: {problem}.",
                $"Malformed judge verdict for '{rubric.Name}': {problem}. Expected {{\"score\": 1-5, \"reason\": \"...\"}}; the reply began: \"{excerpt.ReplaceLineEndings(" ")}\".");
        }

        if (reply.Usage is { } usage)
        {
            metric.AddOrUpdateMetadata(StewardMetrics.JudgeInputTokensKey, (usage.InputTokenCount ?? 0).ToString(CultureInfo.InvariantCulture));
            metric.AddOrUpdateMetadata(StewardMetrics.JudgeOutputTokensKey, (usage.OutputTokenCount ?? 0).ToString(CultureInfo.InvariantCulture));
        }

        return new EvaluationResult(metric);
    }

    private string Instructions() =>
        $$"""
        You are an impartial, strict evaluator of answers written by an AI assistant. You judge one quality only: {{rubric.Name}}.
        {{rubric.Criterion}}
        Score it from 1 to 5:
        {{string.Join("\n", rubric.Scale)}}
        Judge only what is written. Do not reward length. Reply with JSON only, exactly in this shape:
        {"score": <integer 1-5>, "reason": "<one or two sentences>"}
        """;

    private string BuildPrompt(string question, string answer, AnswerExpectations? expectations, ToolSources? sources)
    {
        var prompt = new StringBuilder();
        prompt.Append("QUESTION:\n").Append(question).Append("\n\nANSWER:\n").Append(answer).Append('\n');
        if (rubric.NeedsSources || rubric == JudgeRubric.Completeness)
        {
            if (sources is { Results.Count: > 0 })
            {
                prompt.Append("\nSOURCES (what the assistant's tools returned):\n");
                foreach (var result in sources.Results)
                {
                    var content = result.Content.Length <= MaxSourceCharacters ? result.Content : result.Content[..MaxSourceCharacters] + "…";
                    prompt.Append("- [").Append(result.Name).Append("] ").Append(content).Append('\n');
                }
            }

            if (expectations?.ReferenceAnswer is { } reference)
            {
                prompt.Append("\nREFERENCE ANSWER:\n").Append(reference).Append('\n');
            }
        }

        prompt.Append(CultureInfo.InvariantCulture, $"\nRate the ANSWER's {rubric.Name} from 1 to 5 and reply with the JSON verdict.");
        return prompt.ToString();
    }
}
