using System.Globalization;
using System.Text.Json;

namespace Steward.Evaluation.Judges;

/// <summary>The judge's answer: a score from 1 to 5 and a reason.</summary>
internal sealed record JudgeVerdict(int Score, string Reason)
{
    /// <summary>The JSON schema the judge is asked to reply in.</summary>
    public static JsonElement Schema { get; } = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "score": { "type": "integer", "minimum": 1, "maximum": 5, "description": "1 (worst) to 5 (best), following the rubric." },
            "reason": { "type": "string", "description": "One or two sentences explaining the score." }
          },
          "required": ["score", "reason"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    /// <summary>
    /// Reads a verdict from the judge's reply. Tolerates a code fence or text around the JSON object (models add
    /// them despite the schema); anything else that is not <c>{"score": 1–5, "reason": "…"}</c> is a problem, described.
    /// </summary>
    public static bool TryParse(string reply, out JudgeVerdict? verdict, out string problem)
    {
        verdict = null;
        var text = reply.Trim();
        var start = text.IndexOf('{', StringComparison.Ordinal);
        var end = text.LastIndexOf('}');
        if (text.Length == 0)
        {
            problem = "the judge's reply was empty";
            return false;
        }

        if (start < 0 || end < start)
        {
            problem = "the judge's reply holds no JSON object";
            return false;
        }

        try
        {
            using var doc = JsonDocument.Parse(text[start..(end + 1)]);
            var root = doc.RootElement;
            if (!root.TryGetProperty("score", out var scoreElement))
            {
                problem = "the verdict has no 'score'";
                return false;
            }

            int score;
            if (scoreElement.ValueKind == JsonValueKind.Number && scoreElement.TryGetDouble(out var number) && number == Math.Floor(number))
            {
                score = (int)number;
            }
            else if (scoreElement.ValueKind == JsonValueKind.String && int.TryParse(scoreElement.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed))
            {
                score = parsed;
            }
            else
            {
                problem = $"the verdict's 'score' is not a whole number ({scoreElement.GetRawText()})";
                return false;
            }

            if (score is < 1 or > 5)
            {
                problem = string.Create(CultureInfo.InvariantCulture, $"the verdict's 'score' {score} is outside 1–5");
                return false;
            }

            var reason = root.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()!.Trim() : "";
            verdict = new JudgeVerdict(score, reason.Length > 0 ? reason : "The judge gave no reason.");
            problem = "";
            return true;
        }
        catch (JsonException ex)
        {
            problem = "the verdict is not valid JSON (" + ex.Message.Split('.')[0] + ")";
            return false;
        }
    }
}
