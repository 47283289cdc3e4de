using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Steward.Storage;
using Steward.Web.Tests.Queries;

namespace Steward.Web.Tests.Browser;

/// <summary>
/// Traces and Analytics filtered from the address and from the page: date, cost, latency and model ranges on Traces;
/// error rate by status, time to first token and the filters kept in the URL on Analytics; tags from Chat to every view;
/// stored evaluation batches listed and compared case by case.
/// </summary>
public sealed class FiltersBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private static readonly DateTime March = new(2025, 3, 2, 10, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task Traces_DateCostLatencyAndModelRanges_ListOnlyMatchingRunsAndLiveInTheAddress()
    {
        fixture.RequireBrowser();
        await StoreAsync(
            Run("in range", March, "filter-model-a", durationMs: 500, costNano: 1_000_000_000),
            Run("too slow", March, "filter-model-a", durationMs: 5_000, costNano: 1_000_000_000),
            Run("too dear", March, "filter-model-a", durationMs: 500, costNano: 9_000_000_000),
            Run("other model", March, "filter-model-b", durationMs: 500, costNano: 1_000_000_000),
            Run("day before", March.AddDays(-1), "filter-model-a", durationMs: 500, costNano: 1_000_000_000),
            Run("also in range", March.AddHours(5), "filter-model-a", durationMs: 800, costNano: 2_000_000_000));
        var page = await fixture.NewPageAsync();

        await page.OpenAsync("/traces?model=filter-model-a&from=2025-03-02&until=2025-03-02&min_usd=0.5&max_usd=3&max_ms=1000");

        var rows = page.Locator("[data-testid=trace-run]");
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator("[data-testid=trace-runs-total]")).ToContainTextAsync("of 2 runs");
        var texts = await rows.AllInnerTextsAsync();
        Assert.Contains("also in range", texts[0], StringComparison.Ordinal);
        Assert.Contains("in range", texts[1], StringComparison.Ordinal);
        Assert.DoesNotContain("also", texts[1], StringComparison.Ordinal);

        // A filter typed on the page goes into the address and narrows the list.
        await page.Locator("[data-testid=trace-filter-max-usd] input, input[data-testid=trace-filter-max-usd]").First.FillAsync("1.5");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("max_usd=1.5"));
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        Assert.Contains("model=filter-model-a", page.Url, StringComparison.Ordinal);
        await page.ScreenshotAsync("traces-filtered");
    }

    [Fact]
    public async Task Analytics_ErrorRateTimeToFirstTokenAndRunsByStatus_FollowTheFiltersInTheAddress()
    {
        fixture.RequireBrowser();
        var cancelled = Run("stopped", March, "outcomes-model", durationMs: 900, costNano: 0, status: "Cancelled", preset: "outcomes");
        cancelled.OutputTokens = 42;
        cancelled.TimeToFirstTokenMs = 300;
        var runs = new List<RunRecord> { cancelled, Run("failed", March, "outcomes-model", durationMs: 100, costNano: null, status: "Failed", preset: "outcomes") };
        for (var i = 0; i < 3; i++)
        {
            var completed = Run($"answered {i}", March, "outcomes-model", durationMs: 1000, costNano: 1_000_000, preset: "outcomes");
            completed.TimeToFirstTokenMs = 100 * (i + 1);
            runs.Add(completed);
        }

        await StoreAsync([.. runs]);
        var page = await fixture.NewPageAsync();

        await page.OpenAsync("/analytics?agent=outcomes&by=week&measure=tokens");

        await Assertions.Expect(page.Locator("[data-testid=total-runs]")).ToHaveTextAsync("5");
        await Assertions.Expect(page.Locator("[data-testid=error-rate]")).ToHaveTextAsync("20%");
        // A few runs: the runs' own times, as latency's (past Steward:Reports:ExactPercentilesUpTo, "≈" a histogram bucket's).
        await Assertions.Expect(page.Locator("[data-testid=ttft-p50]")).ToHaveTextAsync(Steward.Web.Chat.MetricFormat.Milliseconds(200));
        await Assertions.Expect(page.Locator("[data-testid=ttft-p95]")).ToHaveTextAsync(Steward.Web.Chat.MetricFormat.Milliseconds(300));
        var stopped = page.Locator("[data-testid=runs-by-status] tr[data-status=Cancelled]");
        await Assertions.Expect(stopped.Locator("[data-testid=status-output]")).ToHaveTextAsync("42");
        await Assertions.Expect(stopped).ToContainTextAsync("20%");
        await Assertions.Expect(page.Locator("[data-testid=chart-cost-over-time]")).ToContainTextAsync("Tokens over time (by week");

        // The view survives a reload: every filter is in the address.
        await page.ReloadAsync();
        await page.Locator("#steward-app[data-interactive=true]").WaitForAsync();
        await Assertions.Expect(page.Locator("[data-testid=error-rate]")).ToHaveTextAsync("20%");

        // A filter chosen on the page is written to the address.
        await page.Locator("[data-testid=chart-cost-over-time]").ScrollIntoViewIfNeededAsync();
        await page.GetByText("Day", new() { Exact = true }).First.ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("agent=outcomes"));
        await Assertions.Expect(page).Not.ToHaveURLAsync(new Regex("by=week"));
        await Assertions.Expect(page.Locator("[data-testid=chart-cost-over-time]")).ToContainTextAsync("(by day");
        await page.ScreenshotAsync("analytics-outcomes");
    }

    [Fact]
    public async Task Analytics_UserAndTagFilters_NarrowEveryCardAndLiveInTheAddress()
    {
        fixture.RequireBrowser();
        var preset = "facets-" + Guid.NewGuid().ToString("N")[..6];
        RunRecord Made(string query, string? user, string? tag, string status, long cost)
        {
            var run = Run(query, March, "facets-model", durationMs: 700, costNano: cost, status: status, preset: preset, userId: user);
            if (tag is not null)
            {
                run.Tags.Add(new RunTagRecord { RunId = run.Id, Tag = tag });
            }

            return run;
        }

        await StoreAsync(
            Made("ann blue", "u-ann", "t-blue", "Completed", 1_000_000_000),
            Made("ann blue failed", "u-ann", "t-blue", "Failed", 0),
            Made("ann plain", "u-ann", null, "Completed", 2_000_000_000),
            Made("bob blue", "u-bob", "t-blue", "Completed", 4_000_000_000));
        var page = await fixture.NewPageAsync();

        await page.OpenAsync($"/analytics?agent={preset}&user=u-ann");

        await Assertions.Expect(page.Locator("[data-testid=total-runs]")).ToHaveTextAsync("3");
        await Assertions.Expect(page.Locator("[data-testid=error-rate]")).ToHaveTextAsync("33%");
        await Assertions.Expect(page.Locator("[data-testid=cost-by-user] tr[data-key]")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=cost-by-user] tr[data-key='u-ann']")).ToContainTextAsync("$3");
        await Assertions.Expect(page.Locator("[data-testid=cost-by-tag] tr[data-key='t-blue']")).ToContainTextAsync("$1");

        // A tag typed on the page joins the user in the address, and every card narrows to both.
        var tagInput = page.Locator("[data-testid=analytics-tag] input, input[data-testid=analytics-tag]").First;
        await tagInput.FillAsync("t-blue");
        await tagInput.PressAsync("Enter");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("tag=t-blue"));
        Assert.Contains("user=u-ann", page.Url, StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("[data-testid=total-runs]")).ToHaveTextAsync("2");
        await Assertions.Expect(page.Locator("[data-testid=error-rate]")).ToHaveTextAsync("50%");

        // The view survives a reload; clearing the user widens it to the tag's runs of every user.
        await page.ReloadAsync();
        await page.Locator("#steward-app[data-interactive=true]").WaitForAsync();
        await Assertions.Expect(page.Locator("[data-testid=total-runs]")).ToHaveTextAsync("2");
        await page.OpenAsync($"/analytics?agent={preset}&tag=t-blue");
        await Assertions.Expect(page.Locator("[data-testid=total-runs]")).ToHaveTextAsync("3");
        await Assertions.Expect(page.Locator("[data-testid=cost-by-user] tr[data-key]")).ToHaveCountAsync(2);
        await page.ScreenshotAsync("analytics-user-tag");
    }

    [Fact]
    public async Task Chat_TagsGivenOnThePage_ShownOnTheCardAndFilterTracesAndAnalytics()
    {
        fixture.RequireBrowser();
        var tag = "release-" + Guid.NewGuid().ToString("N")[..8];
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");

        await page.Locator("[data-testid=tags-input] input, input[data-testid=tags-input]").First.FillAsync($"{tag}, nightly");
        await page.AskAsync("Tag me");

        var answer = page.Locator("[data-testid=assistant-message][data-finished=true]").Last;
        await Assertions.Expect(answer.Locator("[data-testid=run-tag]")).ToHaveTextAsync(["nightly", tag]);
        var session = (await page.WaitForSessionAddressAsync())[^36..];
        await page.OpenAsync($"/history/{session}");
        await Assertions.Expect(page.Locator("[data-testid=run-tag]")).ToHaveTextAsync(["nightly", tag]);

        await page.OpenAsync($"/traces?tag={tag}");
        await Assertions.Expect(page.Locator("[data-testid=trace-run]")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=trace-run]")).ToContainTextAsync("Tag me");

        await page.OpenAsync("/analytics");
        await Assertions.Expect(page.Locator($"[data-testid=cost-by-tag] tr[data-key='{tag}']")).ToContainTextAsync("1");
        await page.ScreenshotAsync("chat-tags");
    }

    [Fact]
    public async Task Evaluations_TwoStoredBatches_ListedWithScoresAndComparedCaseByCase()
    {
        fixture.RequireBrowser();
        var dataset = "regression-" + Guid.NewGuid().ToString("N")[..6] + ".jsonl";
        var before = Batch(dataset, March, ("capital", 80), ("sum", 60), ("gone", 50));
        var after = Batch(dataset, March.AddDays(1), ("capital", 95), ("sum", 40), ("new", 70));
        await fixture.WithDatabaseAsync(db =>
        {
            foreach (var report in new[] { before, after })
            {
                db.EvaluationBatches.Add(new EvaluationBatchRecord
                {
                    Id = report.BatchId, Dataset = report.Dataset, PresetName = report.Preset, StartedAt = report.StartedAt.UtcDateTime,
                    EndedAt = report.EndedAt.UtcDateTime, Cases = report.Totals.Cases, Passed = report.Totals.Passed, MeanScore = report.Totals.MeanScore,
                    ReportJson = System.Text.Json.JsonSerializer.Serialize(report, Steward.Sessions.SessionExporter.JsonOptions),
                });
            }

            return Task.FromResult(2);
        });
        var page = await fixture.NewPageAsync();

        await page.OpenAsync("/evaluations");
        await Assertions.Expect(page.Locator($"[data-testid=batches] tr[data-batch='{before.BatchId}'] [data-testid=batch-score]")).ToHaveTextAsync("63.3");
        await page.Locator($"tr[data-batch='{before.BatchId}'] [data-testid=pick-a]").CheckAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"a={before.BatchId}"));
        await page.Locator($"tr[data-batch='{after.BatchId}'] [data-testid=pick-b]").CheckAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"b={after.BatchId}"));

        var rows = page.Locator("[data-testid=comparison] [data-testid=case-row]");
        await Assertions.Expect(rows).ToHaveCountAsync(4);
        await Assertions.Expect(page.Locator("tr[data-case=capital] [data-testid=case-delta]")).ToHaveTextAsync("+15");
        await Assertions.Expect(page.Locator("tr[data-case=capital]")).ToHaveAttributeAsync("data-change", "Better");
        await Assertions.Expect(page.Locator("tr[data-case=sum] [data-testid=case-delta]")).ToHaveTextAsync("-20");
        await Assertions.Expect(page.Locator("tr[data-case=sum] [data-testid=case-delta]")).ToHaveClassAsync(new Regex("delta-worse"));
        await Assertions.Expect(page.Locator("tr[data-case=new]")).ToHaveAttributeAsync("data-change", "OnlyInOne");
        await Assertions.Expect(page.Locator("[data-testid=comparison-summary]")).ToContainTextAsync("1 better, 1 worse");
        // The comparison is an address: it reopens as it was.
        await page.ReloadAsync();
        await Assertions.Expect(rows).ToHaveCountAsync(4);
        await page.ScreenshotAsync("evaluations-compare");
    }

    private static Steward.Evaluation.Batches.EvaluationBatchReport Batch(string dataset, DateTime started, params (string Id, double Score)[] cases)
    {
        var results = cases.Select(c => new Steward.Evaluation.Batches.EvaluationCaseResult
        {
            Id = c.Id, Question = "Question " + c.Id, Score = c.Score, Passed = c.Score >= 60, Status = Steward.Agents.RunStatus.Completed,
        }).ToArray();
        var empty = new Steward.Agents.RunUsage(0, 0, 0, 0);
        return new Steward.Evaluation.Batches.EvaluationBatchReport
        {
            BatchId = Guid.CreateVersion7(), Dataset = dataset, Preset = "batch", StartedAt = started, EndedAt = started.AddMinutes(1), Cases = results,
            Totals = new Steward.Evaluation.Batches.EvaluationBatchTotals(results.Length, results.Length, 0, results.Count(r => r.Passed),
                Math.Round(results.Average(r => r.Score), 2), (double)results.Count(r => r.Passed) / results.Length, 0m, 0, 0m, empty, empty,
                new Steward.Evaluation.Batches.LatencyPercentiles(0, 0, 0, 0, 0), new Dictionary<string, double>()),
        };
    }

    private static RunRecord Run(
        string query, DateTime started, string model, double durationMs, long? costNano, string status = "Completed", string preset = "p", string? userId = null)
    {
        var run = QueryTestDatabase.Run(query, started, durationMs, costNano, status, model, preset, userId);
        run.Owner = "test";
        return run;
    }

    private Task<int> StoreAsync(params RunRecord[] runs) => fixture.WithDatabaseAsync(db =>
    {
        foreach (var run in runs)
        {
            db.Add(QueryTestDatabase.Session(run.Query, run.PresetName, run.StartedAt, run));
        }

        return Task.FromResult(runs.Length);
    });
}
