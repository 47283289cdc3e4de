using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;
using Steward.Evaluation;
using Steward.Evaluation.Heuristics;

namespace Steward.Tests.Evaluation;

/// <summary>Each heuristic evaluator on crafted answers: good, bad and edge cases, with the values expected.</summary>
public sealed class HeuristicEvaluatorTests
{
    private static AnswerExpectations Expect(
        string[]? topics = null, Dictionary<string, IReadOnlyList<string>>? synonyms = null, StructureExpectations? structure = null) =>
        new(topics ?? [], synonyms ?? [], structure ?? StructureExpectations.Default, referenceAnswer: null);

    private static async Task<EvaluationMetric> EvaluateAsync(
        IEvaluator evaluator, string answer, AnswerExpectations? expectations = null, IReadOnlyList<ToolResult>? tools = null, string metric = "")
    {
        var result = await evaluator.EvaluateAsync(
            [new ChatMessage(ChatRole.User, "question")], new ChatResponse(new ChatMessage(ChatRole.Assistant, answer)), null,
            [expectations ?? Expect(), new ToolSources(tools ?? [])], TestContext.Current.CancellationToken);
        return metric.Length == 0 ? Assert.Single(result.Metrics.Values) : result.Metrics[metric];
    }

    private static double? Value(EvaluationMetric m) => ((NumericMetric)m).Value;

    [Fact]
    public async Task TopicCoverage_AllTopicsInOtherInflections_CoversAll()
    {
        var m = await EvaluateAsync(new TopicCoverageEvaluator(),
            "The main risk is lock-in. We recommend Postgres; the tradeoffs are operational. Next step: migrate.",
            Expect(["risks", "recommendation", "trade-offs", "next steps"]));

        Assert.Equal(1.0, Value(m));
        Assert.Equal(1.0, QualityScorer.Normalize(m));
        Assert.Contains("trade-offs (as 'tradeoffs')", m.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TopicCoverage_SynonymFromPreset_Counts_AndMissingTopicsAreNamed()
    {
        var m = await EvaluateAsync(new TopicCoverageEvaluator(), "Rivals such as Acme dominate; the market expanded by 12% a year.",
            Expect(["competitors", "growth", "risks", "market size"], new() { ["competitors"] = ["rivals"], ["growth"] = ["expanded"] }));

        Assert.Equal(0.5, Value(m));
        Assert.Contains("competitors (as 'rivals')", m.Reason, StringComparison.Ordinal);
        Assert.Contains("missing: risks, market size", m.Reason, StringComparison.Ordinal);
        Assert.Equal(EvaluationRating.Average, m.Interpretation!.Rating);
    }

    [Fact]
    public async Task TopicCoverage_SubstringOfAnotherWord_DoesNotCount()
    {
        // "risk" inside "brisket" or "asterisk" is not the topic.
        var m = await EvaluateAsync(new TopicCoverageEvaluator(), "Serve the brisket with an asterisk.", Expect(["risk"]));

        Assert.Equal(0.0, Value(m));
        Assert.True(m.Interpretation!.Failed);
    }

    [Fact]
    public async Task TopicCoverage_NoExpectedTopics_IsInconclusiveAndLeftOutOfTheScore()
    {
        var m = await EvaluateAsync(new TopicCoverageEvaluator(), "Anything.");

        Assert.Null(Value(m));
        Assert.Equal(EvaluationRating.Inconclusive, m.Interpretation!.Rating);
        Assert.Null(QualityScorer.Normalize(m));
    }

    [Fact]
    public async Task Citations_NoReferences_ScoresZero()
    {
        var m = await EvaluateAsync(new CitationEvaluator(), "The market is worth $4bn and grows 10% a year.");

        Assert.Equal(0.0, Value(m));
        Assert.Contains("cites nothing", m.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Citations_RealLookingUrlsAndNamedSources_ScoreOne()
    {
        var m = await EvaluateAsync(new CitationEvaluator(),
            "Growth was 12% [1].\n\nSource: Gartner, 2024 market guide\n\n[1] https://www.statista.com/statistics/123/cloud-market/.");

        Assert.Equal(1.0, Value(m));
        Assert.Contains("none flagged", m.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://example.com/report", "placeholder domain")]
    [InlineData("http://localhost:8080/data", "reserved or local host")]
    [InlineData("https://192.168.1.20/stats", "private address")]
    [InlineData("https://www.gartner.com/en/.../report", "placeholder")]
    [InlineData("https://intranet/report", "not a public domain name")]
    public async Task Citations_UnreachableLookingUrl_IsFlagged(string url, string why)
    {
        var m = await EvaluateAsync(new CitationEvaluator(), $"See {url} for details, and https://www.oecd.org/economy/outlook/.");

        Assert.Equal(0.5, Value(m));
        Assert.Contains(why, m.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Citations_AfterSearch_UrlNotReturnedByTheTool_IsFlaggedAsInvented()
    {
        var tools = new[] { new ToolResult("web_search", """[{"title":"Cloud report","url":"https://www.idc.com/cloud-2025?src=x"}]""") };

        var m = await EvaluateAsync(new CitationEvaluator(),
            "Per IDC (https://idc.com/cloud-2025/) the market doubled; see also https://www.forrester.com/made-up-study.", tools: tools);

        Assert.Equal(0.5, Value(m));
        Assert.Contains("forrester.com/made-up-study (not among the search results: possibly invented)", m.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("idc.com/cloud-2025/ (", m.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Structure_PresetAsksForHeadingsListsAndSections_AllMet()
    {
        const string answer = "## Summary\nShort answer.\n\n## Options\n- Postgres\n- SQLite\n\n## Risks\n1. Lock-in\n2. Cost\n";

        var m = await EvaluateAsync(new StructureEvaluator(), answer,
            Expect(structure: new StructureExpectations { Headings = true, MinSections = 3, Lists = true }));

        Assert.Equal(1.0, Value(m));
        Assert.Contains("4 of 4 layout checks met", m.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Structure_WallOfText_FailsHeadingsListsAndParagraphLength()
    {
        var wall = string.Join(' ', Enumerable.Repeat("This sentence goes on without any structure at all.", 20));

        var m = await EvaluateAsync(new StructureEvaluator(), wall,
            Expect(structure: new StructureExpectations { Headings = true, Lists = true, MaxParagraphWords = 100 }));

        Assert.Equal(0.0, Value(m));
        Assert.Contains("longest paragraph 180 words (limit 100)", m.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Structure_NoExpectations_LongUnstructuredAnswerLosesHalf()
    {
        var paragraphs = string.Join("\n\n", Enumerable.Repeat(string.Join(' ', Enumerable.Repeat("word", 60)), 3));

        var m = await EvaluateAsync(new StructureEvaluator(), paragraphs);

        Assert.Equal(0.5, Value(m));
        Assert.Contains("180 words with no headings or lists", m.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Structure_BoldLineCountsAsHeading_AndCodeIsNotProse()
    {
        var code = string.Join('\n', Enumerable.Repeat("var x = compute(a, b, c, d, e, f, g, h);", 40));
        var answer = $"**Recommendation**\nUse SQLite.\n\n```csharp\n{code}\n```\n";

        var m = await EvaluateAsync(new StructureEvaluator(), answer, Expect(structure: new StructureExpectations { Headings = true, MaxParagraphWords = 20 }));

        Assert.Equal(1.0, Value(m));
    }

    [Theory]
    [InlineData(0, null, null, 0.0)]      // empty
    [InlineData(3, null, null, 0.6)]      // 3 of the 5 words a non-trivial answer needs
    [InlineData(50, 20, 100, 1.0)]        // inside the range
    [InlineData(200, 20, 100, 0.5)]       // twice the maximum
    [InlineData(10, 20, 100, 0.5)]        // half the minimum
    public async Task Length_AgainstPresetLimits(int words, int? min, int? max, double expected)
    {
        var answer = string.Join(' ', Enumerable.Repeat("word", words));

        var m = await EvaluateAsync(new LengthEvaluator(), answer, Expect(structure: new StructureExpectations { MinWords = min, MaxWords = max }));

        Assert.Equal(words, Value(m));
        Assert.Equal(expected, QualityScorer.Normalize(m)!.Value, 3);
    }

    [Fact]
    public async Task Readability_PlainShortSentences_ScoreHigherThanDenseJargon()
    {
        var plain = await EvaluateAsync(new ReadabilityEvaluator(), "The cat sat on the mat. It was a good day. We had fun in the sun.");
        var dense = await EvaluateAsync(new ReadabilityEvaluator(),
            "Organizational interoperability considerations necessitate comprehensive architectural standardization, notwithstanding implementation heterogeneity across institutional infrastructures.");

        Assert.InRange(Value(plain)!.Value, 90, 121);
        Assert.Equal(1.0, QualityScorer.Normalize(plain));
        Assert.True(Value(dense) < 0, $"dense prose scored {Value(dense)}");
        Assert.Equal(0.0, QualityScorer.Normalize(dense));
        Assert.Contains("very difficult", dense.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readability_EmptyAnswer_IsInconclusive()
    {
        var m = await EvaluateAsync(new ReadabilityEvaluator(), "   ");

        Assert.Equal(EvaluationRating.Inconclusive, m.Interpretation!.Rating);
    }

    [Theory]
    [InlineData("I'm sorry, but I can't help with that request.", true)]
    [InlineData("As an AI language model, I cannot browse the internet.", true)]
    [InlineData("I am unable to provide medical dosage advice.", true)]
    [InlineData("Postgres is the better fit: it handles concurrent writes.", false)]
    [InlineData("You can't go wrong with SQLite for a five-person tool.", false)]
    public async Task Refusal_DetectsDecliningOpenings(string answer, bool refused)
    {
        var m = (BooleanMetric)await EvaluateAsync(new RefusalEvaluator(), answer, metric: RefusalEvaluator.RefusalMetric);

        Assert.Equal(refused, m.Value);
        Assert.Equal(refused ? 0.0 : 1.0, QualityScorer.Normalize(m));
    }

    [Fact]
    public async Task Refusal_LaterQuoteOfARefusal_IsNotARefusal()
    {
        var answer = string.Join(' ', Enumerable.Repeat("Here is the full plan with every step explained.", 10)) + " Users often write \"I can't help with that\".";

        var m = (BooleanMetric)await EvaluateAsync(new RefusalEvaluator(), answer, metric: RefusalEvaluator.RefusalMetric);

        Assert.False(m.Value);
    }

    [Fact]
    public async Task Hedging_DensityPer100Words_MapsToScore()
    {
        var confident = await EvaluateAsync(new RefusalEvaluator(), "Use Postgres. It scales, it is mature, and your team knows it.", metric: RefusalEvaluator.HedgingMetric);
        // 3 hedges in 20 words: 15 per 100 words.
        var hedged = await EvaluateAsync(new RefusalEvaluator(),
            "I think it might work, but perhaps you should check the setup again before you decide on one of the options here.",
            metric: RefusalEvaluator.HedgingMetric);

        Assert.Equal(0.0, Value(confident));
        Assert.Equal(1.0, QualityScorer.Normalize(confident));
        Assert.Equal(13.64, Value(hedged));
        Assert.Equal(0.0, QualityScorer.Normalize(hedged));
        Assert.Contains("i think, might, perhaps", hedged.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("risks", "risk")]
    [InlineData("trending", "trend")]
    [InlineData("recommended", "recommend")]
    [InlineData("recommendation", "recommend")]
    [InlineData("companies", "company")]
    [InlineData("planned", "plan")]
    [InlineData("analysis", "analysis")]
    [InlineData("bus", "bus")]
    public void Stem_MatchesInflectionsWithoutMergingShortWords(string word, string stem) =>
        Assert.Equal(stem, WordStemmer.Stem(word));
}
