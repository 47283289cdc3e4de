using System.Globalization;
using Spectre.Console;
using Steward.Agents;

namespace Steward.Cli.Rendering;

/// <summary>
/// Shows a run as it happens: each stage as a line on standard error, the answer streamed to standard output (so
/// <c>steward ask … &gt; answer.txt</c> captures only the answer), and a summary of tokens and latency at the end.
/// </summary>
internal sealed class RunProgressRenderer(IAnsiConsole status, TextWriter answer)
{
    private bool _streaming;

    public ValueTask OnProgressAsync(RunProgress progress)
    {
        if (progress.TextDelta is { } delta)
        {
            _streaming = true;
            answer.Write(delta);
            answer.Flush();
            return ValueTask.CompletedTask;
        }

        if (_streaming)
        {
            answer.WriteLine();
            _streaming = false;
        }

        if (progress.Message.Length > 0)
        {
            var (icon, colour) = progress.Stage switch
            {
                RunStage.Completed => ("✓", "green"),
                RunStage.Failed => ("✗", "red"),
                RunStage.BudgetExceeded => ("✗", "yellow"),
                RunStage.Cancelled => ("■", "yellow"),
                _ => ("●", "grey"),
            };
            // A failure's reason is printed once, as the command's one-line error.
            var message = progress.Stage is RunStage.Failed or RunStage.BudgetExceeded or RunStage.Cancelled ? "" : progress.Message;
            if (progress.ToolCall is { Completed: false, Arguments: { Length: > 2 } arguments })
            {
                message += " " + arguments;
            }
            else if (progress.ToolCall is { Completed: true, Error: null, ResultPreview: { Length: > 0 } preview })
            {
                message += " " + (preview.Length > 120 ? preview[..120] + "…" : preview);
            }
            // Concatenated, not formatted: tool arguments carry braces. A failure's line is its stage alone, the reason below it.
            status.MarkupLine("[" + colour + "]" + icon + " " + Describe(progress.Stage) + "[/]" + (message.Length > 0 ? " [grey]" + Markup.Escape(message) + "[/]" : ""));
        }

        return ValueTask.CompletedTask;
    }

    public void WriteSummary(AgentResponse response)
    {
        if (response.Status != RunStatus.Completed)
        {
            return;
        }

        var table = new Table().Border(TableBorder.Rounded).BorderColor(Color.Grey);
        foreach (var column in new[] { "input", "cached", "output", "reasoning", "cost", "latency", "first token" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        var u = response.Usage;
        table.AddRow(
            u.InputTokens.ToString("N0", CultureInfo.InvariantCulture), u.CachedInputTokens.ToString("N0", CultureInfo.InvariantCulture),
            u.OutputTokens.ToString("N0", CultureInfo.InvariantCulture), u.ReasoningTokens.ToString("N0", CultureInfo.InvariantCulture),
            Markup.Escape(FormatCost(response.Cost)),
            response.Duration.TotalSeconds.ToString("0.00 s", CultureInfo.InvariantCulture),
            response.TimeToFirstToken is { } ttft ? ttft.TotalMilliseconds.ToString("0 ms", CultureInfo.InvariantCulture) : "-");
        status.Write(table);
        if (response.Citations.Count > 0)
        {
            status.MarkupLine("[bold]Sources[/]");
            foreach (var c in response.Citations)
            {
                status.MarkupLine("  [[" + c.Number.ToString(CultureInfo.InvariantCulture) + "]] " + Markup.Escape(c.Title) + " [blue]" + Markup.Escape(c.Url) + "[/]");
            }
        }

        status.MarkupLine(CultureInfo.InvariantCulture, $"[grey]session {response.SessionId} · run {response.RunId}[/]");
    }

    /// <summary>
    /// Waits for the answer's quality, scored in the background after delivery; the quality line itself arrives as a
    /// progress event. Returns <see langword="null"/> when the answer is not scored.
    /// </summary>
    public async Task<QualityResult?> AwaitQualityAsync(AgentRunner runner, AgentResponse response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(response);
        if (!response.EvaluationPending)
        {
            return null;
        }

        status.MarkupLine(CultureInfo.InvariantCulture, $"[grey]● {Describe(RunStage.Evaluating)}[/] [grey]Scoring the answer (--no-wait-quality skips the wait).[/]");
        var quality = await runner.WaitForQualityAsync(response.RunId, cancellationToken).ConfigureAwait(false);
        if (quality is null)
        {
            status.MarkupLine(CultureInfo.InvariantCulture, $"[yellow]● {Describe(RunStage.Evaluating)}[/] [grey]The answer was not scored; the run's progress log says why.[/]");
        }

        return quality;
    }

    internal static string FormatCost(RunCost cost) => cost switch
    {
        { SelfHosted: true } => "$0 (self-hosted)",
        { Usd: { } usd } => "$" + usd.ToString("0.######", CultureInfo.InvariantCulture),
        _ => "unpriced",
    };

    private static string Describe(RunStage stage) => stage switch
    {
        RunStage.CheckingBudget => "Checking budget",
        RunStage.BudgetExceeded => "Budget exceeded",
        _ => stage.ToString(),
    };
}
