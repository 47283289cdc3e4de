using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Steward.Agents;
using Steward.Cli.Parsing;
using Steward.Cli.Rendering;
using Steward.Evaluation.Batches;
using Steward.Sessions;

namespace Steward.Cli.Commands;

/// <summary>
/// <c>steward eval DATASET --agent NAME</c>: runs a JSONL dataset through the real pipeline, prints a summary, writes
/// JSON and HTML reports, and exits non-zero when quality is below <c>--fail-under</c> or regressed against
/// <c>--baseline</c>, so it can gate CI.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var dataset = new Argument<FileInfo>("dataset") { Description = "A JSONL file: one {\"question\", \"expected_topics\", \"reference_answer\", \"tags\", \"id\"} per line." };
        var agent = RunOptions.Agent();
        var judge = new Option<string?>("--judge") { Description = "Judge model for LLM-as-judge metrics, as PROVIDER:MODEL or PROVIDER (overrides Steward:Evaluation:Judge)." };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "How many cases run at once (1–64).", DefaultValueFactory = _ => 4 }
            .Within(1, EvaluationBatchRunner.MaxConcurrency);
        var baseline = new Option<string?>("--baseline") { Description = "Compare with an earlier run: its JSON report file, or its batch id." };
        var failUnder = new Option<double?>("--fail-under") { Description = "Exit with code 8 when the mean score (0–100) is below this." }.Within(0, 100);
        var tolerance = new Option<double>("--tolerance") { Description = "Points the mean score may fall against the baseline before it is a regression (exit code 9).", DefaultValueFactory = _ => 2 }
            .Within(0, 100);
        var output = new Option<DirectoryInfo?>("--output", "-o") { Description = "Folder for the JSON and HTML reports (default: eval-reports)." };
        var provider = RunOptions.Provider();
        var model = RunOptions.Model();
        var maxTokens = RunOptions.MaxTokens();

        var command = new Command("eval", "Evaluate an agent on a dataset: score every answer, report, and gate on quality.")
        {
            dataset, agent, judge, concurrency, baseline, failUnder, tolerance, output, provider, model, maxTokens,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var judgeName = parse.GetValue(judge);
            var settings = judgeName is null ? null : new Dictionary<string, string?> { ["Steward:Evaluation:Judge"] = judgeName };
            return CliCommand.RunAsync(async services =>
            {
                var file = parse.GetValue(dataset)!;
                var cases = await EvaluationDataset.LoadAsync(file.FullName, cancellationToken).ConfigureAwait(false);
                var batches = services.Get<EvaluationBatchRunner>();
                var baselineArg = parse.GetValue(baseline);
                // Read before the run: a missing baseline should stop the batch before it spends anything.
                var baselineReport = baselineArg is null ? null : await LoadBaselineAsync(services, batches, baselineArg, cancellationToken).ConfigureAwait(false);
                if (judgeName is not null)
                {
                    // A judge that cannot be reached would leave every judge metric inconclusive: say so before spending anything.
                    services.Get<Steward.Evaluation.Judges.JudgeCheck>().EnsureUsable(judgeName);
                }

                var request = new EvaluationBatchRequest
                {
                    Dataset = file.Name,
                    Cases = cases,
                    Preset = parse.GetValue(agent)!,
                    Concurrency = parse.GetValue(concurrency),
                    Provider = parse.GetValue(provider),
                    Model = parse.GetValue(model),
                    MaxOutputTokens = parse.GetValue(maxTokens),
                };
                var report = await RunWithProgressAsync(batches, request, judgeName, cancellationToken).ConfigureAwait(false);
                if (baselineReport is not null)
                {
                    report = EvaluationBatchRunner.CompareWith(report, baselineReport, baselineArg!, parse.GetValue(tolerance));
                }

                await batches.SaveAsync(report, CancellationToken.None).ConfigureAwait(false);
                var (json, html) = await WriteReportsAsync(report, parse.GetValue(output), cancellationToken).ConfigureAwait(false);
                PrintSummary(report, json, html);
                return Decide(report, parse.GetValue(failUnder));
            }, cancellationToken, settings: settings);
        });
        return command;
    }

    private static async Task<EvaluationBatchReport> LoadBaselineAsync(CliServices services, EvaluationBatchRunner batches, string baseline, CancellationToken cancellationToken)
    {
        // A batch id, whole or any unique start of it; anything else is a report file.
        if (!File.Exists(baseline) && baseline.Length > 0 && baseline.All(c => char.IsAsciiHexDigit(c) || c == '-'))
        {
            var batchId = await services.ResolveAsync(IdKind.Batch, baseline, cancellationToken).ConfigureAwait(false);
            return await batches.LoadAsync(batchId, cancellationToken).ConfigureAwait(false)
                ?? throw new FileNotFoundException($"No stored evaluation batch {batchId}; give a batch id printed by an earlier 'steward eval', or its JSON report.");
        }

        if (!File.Exists(baseline))
        {
            throw new FileNotFoundException($"Baseline not found: {baseline}", baseline);
        }

        try
        {
            await using var stream = File.OpenRead(baseline);
            return await JsonSerializer.DeserializeAsync<EvaluationBatchReport>(stream, StoredSessions.ExportJsonOptions, cancellationToken).ConfigureAwait(false)
                ?? throw new ArgumentException($"The baseline {baseline} is empty.");
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"The baseline {baseline} is not a 'steward eval' JSON report ({ex.Message.Split('.')[0]}).", ex);
        }
    }

    private static async Task<EvaluationBatchReport> RunWithProgressAsync(
        EvaluationBatchRunner batches, EvaluationBatchRequest request, string? judge, CancellationToken cancellationToken)
    {
        EvaluationBatchReport? report = null;
        var done = 0;
        var failed = 0;
        await CliErrors.Stderr.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask($"{request.Preset}: {request.Cases.Count} cases", maxValue: request.Cases.Count);
                report = await batches.RunAsync(request, result =>
                {
                    var count = Interlocked.Increment(ref done);
                    var failures = result.Status == RunStatus.Completed ? Volatile.Read(ref failed) : Interlocked.Increment(ref failed);
                    task.Value = count;
                    task.Description = failures == 0
                        ? $"{request.Preset}: {count}/{request.Cases.Count}"
                        : $"{request.Preset}: {count}/{request.Cases.Count} ({failures} failed)";
                    return ValueTask.CompletedTask;
                }, judge, cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
        return report!;
    }

    private static async Task<(string Json, string Html)> WriteReportsAsync(EvaluationBatchReport report, DirectoryInfo? output, CancellationToken cancellationToken)
    {
        var folder = output?.FullName ?? Path.Combine(Directory.GetCurrentDirectory(), "eval-reports");
        Directory.CreateDirectory(folder);
        var stem = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{report.Preset}-{report.StartedAt:yyyyMMdd-HHmmss}-{report.BatchId.ToString()[^6..]}"));
        var json = stem + ".json";
        var html = stem + ".html";
        await using (var stream = File.Create(json))
        {
            await JsonSerializer.SerializeAsync(stream, report, StoredSessions.ExportJsonOptions, cancellationToken).ConfigureAwait(false);
        }

        await File.WriteAllTextAsync(html, HtmlReportWriter.Write(report), cancellationToken).ConfigureAwait(false);
        return (json, html);
    }

    private static void PrintSummary(EvaluationBatchReport report, string json, string html)
    {
        var t = report.Totals;
        var table = new Table().Border(TableBorder.Rounded).Title($"{report.Preset} on {report.Dataset}");
        foreach (var column in new[] { "cases", "passed", "failed runs", "mean score", "pass rate", "cost", "judge cost", "tokens", "p50", "p95" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        table.AddRow(
            N(t.Cases), N(t.Passed), t.Failed > 0 ? $"[red]{N(t.Failed)}[/]" : "0",
            t.MeanScore.ToString("0.0", CultureInfo.InvariantCulture), t.PassRate.ToString("P0", CultureInfo.InvariantCulture),
            Markup.Escape(RunProgressRenderer.FormatCost(new RunCost(t.CostUsd)) + (t.UnpricedCases > 0 ? $" + {t.UnpricedCases} unpriced" : "")),
            Markup.Escape("$" + t.JudgeCostUsd.ToString("0.######", CultureInfo.InvariantCulture)),
            N(t.Tokens.TotalTokens + t.JudgeTokens.TotalTokens),
            t.Latency.P50.ToString("0 ms", CultureInfo.InvariantCulture), t.Latency.P95.ToString("0 ms", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);

        if (report.Baseline is { } b)
        {
            var colour = b.Regressed ? "red" : b.ScoreDelta >= 0 ? "green" : "yellow";
            AnsiConsole.MarkupLine(CultureInfo.InvariantCulture,
                $"Against baseline {Markup.Escape(b.Source)}: mean score [{colour}]{b.ScoreDelta:+0.0;-0.0;0.0}[/] ({b.BaselineMeanScore:0.0} → {t.MeanScore:0.0}), " +
                $"pass rate {b.PassRateDelta * 100:+0.0;-0.0;0.0} points{(b.Regressed ? $" [red]regressed beyond the tolerance of {b.Tolerance:0.#}[/]" : "")}.");
        }

        AnsiConsole.MarkupLine(CultureInfo.InvariantCulture, $"[grey]batch {report.BatchId}[/]");
        AnsiConsole.MarkupLine($"[grey]report:[/] {Markup.Escape(html)}");
        AnsiConsole.MarkupLine($"[grey]json:[/]   {Markup.Escape(json)}");
    }

    /// <summary>The exit code: below the threshold first, then a regression; a batch with no completed run reports why.</summary>
    internal static int Decide(EvaluationBatchReport report, double? failUnder)
    {
        if (report.Totals.Completed == 0 && report.Cases.FirstOrDefault(c => c.Error is not null) is { } broken)
        {
            return CliErrors.FromRun(new AgentResponse { RunId = broken.RunId, Status = broken.Status, Preset = report.Preset, Error = broken.Error });
        }

        if (failUnder is { } minimum && report.Totals.MeanScore < minimum)
        {
            CliErrors.WriteError(string.Create(CultureInfo.InvariantCulture, $"mean score {report.Totals.MeanScore:0.0} is below --fail-under {minimum:0.#}."));
            return ExitCodes.EvaluationBelowThreshold;
        }

        if (report.Baseline is { Regressed: true } b)
        {
            CliErrors.WriteError(string.Create(CultureInfo.InvariantCulture,
                $"mean score fell {-b.ScoreDelta:0.0} points against the baseline ({b.BaselineMeanScore:0.0} → {report.Totals.MeanScore:0.0}), more than the tolerance of {b.Tolerance:0.#}."));
            return ExitCodes.EvaluationRegressed;
        }

        return ExitCodes.Success;
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
