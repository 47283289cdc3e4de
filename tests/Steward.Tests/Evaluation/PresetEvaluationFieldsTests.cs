using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Steward.Agents;

namespace Steward.Tests.Evaluation;

/// <summary>The preset fields evaluation reads: synonyms, weights, pass threshold and structure, with file+line errors.</summary>
public sealed class PresetEvaluationFieldsTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-presets-");

    public void Dispose() => _folder.Delete(recursive: true);

    private AgentPreset Load(string extra)
    {
        File.WriteAllText(Path.Combine(_folder.FullName, "p.yaml"), "name: p\ndisplay_name: P\ninstructions: Hi\n" + extra);
        return new PresetCatalog(Options.Create(new PresetOptions { Directory = _folder.FullName }), NullLogger<PresetCatalog>.Instance).Get("p");
    }

    [Fact]
    public void Parse_EvaluationFields_AreRead()
    {
        var p = Load("""
            expected_topics: [risks, next steps]
            topic_synonyms:
              risks: [downsides, pitfalls]
            evaluators: [topic_coverage, structure, judge]
            weights: { topic_coverage: 2, relevance: 0.5 }
            pass_threshold: 75
            structure:
              headings: true
              min_sections: 3
              lists: true
              max_paragraph_words: 90
              min_words: 50
              max_words: 600
            """);

        Assert.Equal(["downsides", "pitfalls"], p.TopicSynonyms["risks"]);
        Assert.Equal(2, p.Weights["topic_coverage"]);
        Assert.Equal(0.5, p.Weights["relevance"]);
        Assert.Equal(75, p.PassThreshold);
        Assert.Equal(new Steward.Evaluation.StructureExpectations { Headings = true, MinSections = 3, Lists = true, MaxParagraphWords = 90, MinWords = 50, MaxWords = 600 }, p.Structure);
    }

    [Theory]
    [InlineData("expected_topics: [risks]\ntopic_synonyms:\n  risk: [downside]\n", "line 5", "topic_synonyms has 'risk', which is not in expected_topics (risks)")]
    [InlineData("evaluators: [structure]\nweights: { sparkle: 2 }\n", "line 5", "weights names 'sparkle', which is neither a built-in metric")]
    [InlineData("weights: { structure: -1 }\n", "line 4", "weights: 'structure' must be zero or more")]
    [InlineData("pass_threshold: 120\n", "line 4", "'pass_threshold' must be a score between 0 and 100")]
    [InlineData("structure:\n  min_words: 0\n", "line 5", "structure field 'min_words' must be a positive number")]
    [InlineData("structure:\n  min_words: 100\n  max_words: 50\n", "line 6", "'max_words' must not be less than 'min_words'")]
    [InlineData("structure:\n  headers: true\n", "line 5", "unknown field 'headers'. Known fields: headings, min_sections")]
    public void Parse_BadEvaluationField_NamesFileLineAndFix(string extra, string line, string expected)
    {
        var ex = Assert.Throws<PresetLoadException>(() => Load(extra));

        Assert.Contains("p.yaml, " + line, ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
