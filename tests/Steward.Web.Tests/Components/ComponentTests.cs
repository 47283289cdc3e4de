using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using Steward.Agents;
using Steward.Web.Chat;
using Steward.Web.Components.Shared;
using Steward.Web.Rendering;

namespace Steward.Web.Tests.Components;

public sealed class ComponentTests : BunitContext
{
    public ComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        Services.AddSingleton<MarkdownRenderer>();
    }

    [Fact]
    public void MarkdownView_ScriptImageAndJavascriptLink_AreNotRendered()
    {
        var cut = Render<MarkdownView>(p => p.Add(v => v.Text,
            "Hi <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3)) <a href=\"https://e.example\" onclick=\"alert(4)\">e</a>\n\n| a | b |\n|---|---|\n| 1 | 2 |"));

        Assert.Empty(cut.FindAll("script"));
        Assert.Empty(cut.FindAll("img"));
        Assert.Empty(cut.FindAll("[onerror], [onclick]"));
        Assert.DoesNotContain("javascript:", cut.Markup, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("&lt;script&gt;", cut.Markup, StringComparison.Ordinal);
        Assert.Single(cut.FindAll("table"));
    }

    [Fact]
    public void MarkdownView_Link_OpensApartWithoutReferrer()
    {
        var cut = Render<MarkdownView>(p => p.Add(v => v.Text, "See [docs](https://docs.example/x)."));

        var link = cut.Find("a");
        Assert.Equal("https://docs.example/x", link.GetAttribute("href"));
        Assert.Equal("noopener noreferrer nofollow", link.GetAttribute("rel"));
    }

    [Fact]
    public void StageBadges_FailedWhileCheckingBudget_MarksLaterStagesSkippedAndEndFailed()
    {
        var cut = Render<StageBadges>(p => p
            .Add(b => b.Stage, RunStage.BudgetExceeded)
            .Add(b => b.Reached, new HashSet<RunStage> { RunStage.Initializing, RunStage.CheckingBudget, RunStage.BudgetExceeded }));

        Assert.Equal("Done", cut.Find("[data-stage=CheckingBudget]").GetAttribute("data-state"));
        Assert.Equal("Skipped", cut.Find("[data-stage=Running]").GetAttribute("data-state"));
        Assert.Equal("Skipped", cut.Find("[data-stage=Evaluating]").GetAttribute("data-state"));
        Assert.Equal("Failed", cut.Find("[data-stage=BudgetExceeded]").GetAttribute("data-state"));
        Assert.Contains("Budget exceeded", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public void StageBadges_WhileRunning_MarksOnlyTheCurrentStageForScreenReaders()
    {
        var cut = Render<StageBadges>(p => p
            .Add(b => b.Stage, RunStage.Running)
            .Add(b => b.Reached, new HashSet<RunStage> { RunStage.Initializing, RunStage.CheckingBudget, RunStage.Running }));

        var current = Assert.Single(cut.FindAll("[aria-current=step]"));
        Assert.Equal("Running", current.GetAttribute("data-stage"));
        Assert.Equal("Pending", cut.Find("[data-stage=Evaluating]").GetAttribute("data-state"));
        Assert.Equal("Pending", cut.Find("[data-stage=Completed]").GetAttribute("data-state"));
    }

    [Theory]
    [InlineData(null, false, "unpriced")]
    [InlineData(0.0, true, "$0 (self-hosted)")]
    [InlineData(0.0042, false, "$0.0042")]
    [InlineData(12.5, false, "$12.50")]
    public void MetricCards_Cost_NeverShowsUnpricedAsFree(double? usd, bool selfHosted, string expected)
    {
        var cost = new RunCost(usd is { } u ? (decimal)u : null, selfHosted);
        var cut = Render<MetricCards>(p => p.Add(m => m.Metrics, new RunMetrics(new RunUsage(1200, 200, 300, 50), TimeSpan.FromSeconds(1.5), TimeSpan.FromMilliseconds(250), cost)));

        Assert.Equal(expected, cut.Find("[data-metric=cost] .metric-value").TextContent.Trim());
        Assert.Equal("1,200", cut.Find("[data-metric=input] .metric-value").TextContent.Trim());
        Assert.Equal("200", cut.Find("[data-metric=cached] .metric-value").TextContent.Trim());
        Assert.Equal("50", cut.Find("[data-metric=reasoning] .metric-value").TextContent.Trim());
        Assert.Equal("1.50 s", cut.Find("[data-metric=latency] .metric-value").TextContent.Trim());
        Assert.Equal("250 ms", cut.Find("[data-metric=ttft] .metric-value").TextContent.Trim());
    }

    [Fact]
    public void MetricCards_UsageCountedBySteward_MarksTheCountsAndSaysWhy()
    {
        var metrics = new RunMetrics(new RunUsage(192, 0, 11, 0), TimeSpan.FromSeconds(1), null, new RunCost(0.000035m, false));
        var cut = Render<MetricCards>(p => p.Add(m => m.Metrics, metrics).Add(m => m.UsageEstimated, true));

        Assert.Equal("≈ 192", cut.Find("[data-metric=input] .metric-value").TextContent.Trim());
        Assert.Equal("≈ 11", cut.Find("[data-metric=output] .metric-value").TextContent.Trim());
        Assert.StartsWith("≈ $", cut.Find("[data-metric=cost] .metric-value").TextContent.Trim(), StringComparison.Ordinal);
        Assert.Contains("the provider reported no usage", cut.Find("[data-testid=usage-estimated]").TextContent, StringComparison.Ordinal);

        cut.Render(p => p.Add(m => m.UsageEstimated, false));
        Assert.Equal("192", cut.Find("[data-metric=input] .metric-value").TextContent.Trim());
        Assert.Empty(cut.FindAll("[data-testid=usage-estimated]"));
    }

    [Fact]
    public void MetricCards_WhileEvaluating_SaysScoringThenShowsTheScore()
    {
        var metrics = new RunMetrics(RunUsage.Zero, TimeSpan.Zero, null, null);
        var cut = Render<MetricCards>(p => p.Add(m => m.Metrics, metrics).Add(m => m.Evaluating, true));
        Assert.Equal("scoring…", cut.Find("[data-metric=quality] .metric-value").TextContent.Trim());

        cut.Render(p => p.Add(m => m.Evaluating, false).Add(m => m.Quality, new QualityResult(87.5, true, [])));
        Assert.Equal("87.5 ✓", cut.Find("[data-metric=quality] .metric-value").TextContent.Trim());
    }

    [Theory]
    [InlineData("/srv/models/stories260K.gguf", "stories260K.gguf")]
    [InlineData("gpt-4o-mini", "gpt-4o-mini")]
    [InlineData("smollm2-360m", "smollm2-360m")]
    public void ModelName_LocalFilePath_ShowsOnlyTheFileName(string model, string expected) => Assert.Equal(expected, MetricFormat.ModelName(model));

    [Fact]
    public void Citations_OnlyHttpAddressesBecomeLinks()
    {
        Steward.Tools.Citation[] items =
        [
            new(1, "https://a.example/page", "A page"), new(2, "javascript:alert(1)", "Script"), new(3, "not a url", "Notes"),
        ];
        var cut = Render<Citations>(p => p.Add(c => c.Items, items));

        var link = Assert.Single(cut.FindAll("a"));
        Assert.Equal("https://a.example/page", link.GetAttribute("href"));
        Assert.Equal("A page", link.TextContent.Trim());
        Assert.Contains("javascript:alert(1)", cut.Find("ol").TextContent, StringComparison.Ordinal);
        Assert.Equal(["1", "2", "3"], cut.FindAll("li").Select(li => li.GetAttribute("value")));
    }

    [Fact]
    public void StoredTurnView_ProviderAnomaly_IsAWarningBesideTheAnswer()
    {
        var run = new Steward.Sessions.SessionRun(Guid.NewGuid(), "assistant", "openai", "gpt-4o-mini", "q", RunStatus.Completed, DateTimeOffset.UnixEpoch,
            DateTimeOffset.UnixEpoch, 10, 5, new RunUsage(30, 0, 5000, 0), 0.003m, null, null, [])
        {
            Anomaly = "The provider reported 5,000 output tokens, more than the cap of 800 it was sent.",
        };

        // Feedback has a store of its own, which this view's test does not need.
        ComponentFactories.AddStub<FeedbackButtons>();
        var cut = Render<StoredTurnView>(p => p.Add(v => v.Turn, new StoredTurn("q", "Paris.", run)));

        Assert.Contains("5,000 output tokens, more than the cap of 800", cut.Find("[data-testid=anomaly]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void QualityPanel_ShowsEachMetricWithItsReason()
    {
        var quality = new QualityResult(62, false, [new QualityMetric("topic_coverage", 0.5, "Covered 2 of 4 topics") { NormalizedScore = 0.5, Evaluator = "topics" },
            new QualityMetric("relevance", null, "The judge's verdict was malformed")]) { PassThreshold = 70 };
        var cut = Render<QualityPanel>(p => p.Add(q => q.Quality, quality));

        Assert.Contains("Quality 62 / 100", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("below", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("Covered 2 of 4 topics", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("inconclusive", cut.Markup, StringComparison.Ordinal);
    }
}
