using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Steward.Agents;

namespace Steward.Tests.Agents;

public sealed class PresetCatalogTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-presets-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", ".."));

    private PresetCatalog Catalog() => new(Options.Create(new PresetOptions { Directory = _folder.FullName }), NullLogger<PresetCatalog>.Instance);

    private string Write(string name, string yaml)
    {
        var path = Path.Combine(_folder.FullName, name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void ShippedPresets_AllLoadWithInstructionsAndTopics()
    {
        var repoAgents = Path.Combine(RepositoryRoot(), "agents");
        var catalog = new PresetCatalog(Options.Create(new PresetOptions { Directory = repoAgents }), NullLogger<PresetCatalog>.Instance);

        var presets = catalog.LoadAll().ToDictionary(p => p.Name);

        Assert.Contains("market_analyst", presets.Keys);
        Assert.Contains("tech_advisor", presets.Keys);
        Assert.Contains("general_assistant", presets.Keys);
        Assert.All(presets.Values, p => Assert.True(p.Instructions.Length > 200, $"{p.Name} has thin instructions"));
        Assert.NotEmpty(presets["market_analyst"].ExpectedTopics);
        Assert.True(presets["market_analyst"].EnableWebSearch);
    }

    [Fact]
    public void Get_ValidFile_MapsEveryField()
    {
        Write("analyst", """
            name: analyst
            display_name: Analyst
            description: Looks at markets.
            instructions: |
              Be precise.
            provider: openai
            model: gpt-4.1
            enable_web_search: true
            expected_topics: [market size, growth]
            evaluators: [topic_coverage]
            max_output_tokens: 900
            temperature: 0.2
            budget:
              max_tokens_per_request: 5000
            """);

        var p = Catalog().Get("analyst");

        Assert.Equal(("analyst", "Analyst", "Looks at markets.", "Be precise."), (p.Name, p.DisplayName, p.Description, p.Instructions));
        Assert.Equal(("openai", "gpt-4.1"), (p.Provider, p.Model));
        Assert.True(p.EnableWebSearch);
        Assert.Equal(["market size", "growth"], p.ExpectedTopics);
        Assert.Equal(["topic_coverage"], p.Evaluators);
        Assert.Equal(900, p.MaxOutputTokens);
        Assert.Equal(0.2f, p.Temperature);
        Assert.Equal(5000, p.Budget.MaxTokensPerRequest);
    }

    [Fact]
    public void LoadAll_BrokenYaml_NamesFileAndLine()
    {
        var path = Write("broken", "name: broken\ndisplay_name: Broken\ninstructions: [unclosed\nmodel: x\n");

        var ex = Assert.Throws<PresetLoadException>(() => Catalog().LoadAll());

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Matches(@"line [34]\b", ex.Message);
        Assert.Equal(path, ex.FilePath);
    }

    [Fact]
    public void LoadAll_UnknownField_NamesFieldLineAndKnownFields()
    {
        Write("typo", "name: typo\ndisplay_name: Typo\ninstructions: Hi\nenable_websearch: true\n");

        var ex = Assert.Throws<PresetLoadException>(() => Catalog().LoadAll());

        Assert.Contains("typo.yaml, line 4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unknown field 'enable_websearch'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("enable_web_search", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadAll_SeveralProblemsInOneFile_ListsEveryOneWithItsLine()
    {
        Write("many", "name: many\ndisplay_name: Many\ntemperature: 7\nmodle: gpt\nbudget:\n  daily_cost_usd: -1\n  weekly_usd: 3\nweb_search:\n  backend: nowhere\n");

        var ex = Assert.Throws<PresetLoadException>(() => Catalog().LoadAll());

        // One save shows all six, in the order of the file, so a person fixes them in one pass.
        Assert.Contains("many.yaml: 6 problems", ex.Message, StringComparison.Ordinal);
        Assert.Contains("line 1: required field 'instructions' is missing", ex.Message, StringComparison.Ordinal);
        Assert.Contains("line 3: field 'temperature' must be between 0 and 2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("line 4: unknown field 'modle'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("line 6: budget field 'daily_cost_usd' must be greater than zero", ex.Message, StringComparison.Ordinal);
        Assert.Contains("line 7: budget: unknown field 'weekly_usd'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("line 9: web_search: backend 'nowhere' is not a backend", ex.Message, StringComparison.Ordinal);
        Assert.Equal([1, 3, 4, 6, 7, 9], ex.Problems.Select(p => p.Line));
        Assert.Equal(1, ex.Line);
    }

    [Theory]
    [InlineData("instructions:\n  - a list\n", "line 4: field 'instructions' should be text.")]
    [InlineData("instructions: [unclosed\n", "line 3: field 'instructions' should be text.")]
    [InlineData("instructions: Hi\nmax_output_tokens: lots\n", "line 4: field 'max_output_tokens' should be a whole number.")]
    [InlineData("instructions: Hi\nexpected_topics: cars\n", "line 4: field 'expected_topics' should be a list")]
    [InlineData("instructions: Hi\ntemperature: 0.2\ntemperature: 7\n", "line 5: field 'temperature' is given twice; keep one.")]
    public void LoadAll_ValueOfTheWrongShapeOrAFieldTwice_NamesTheFieldAndWhatItTakes(string rest, string expected)
    {
        Write("shape", "name: shape\ndisplay_name: Shape\n" + rest);

        var ex = Assert.Throws<PresetLoadException>(() => Catalog().LoadAll());

        Assert.True(ex.Message.Contains("shape.yaml, " + expected, StringComparison.Ordinal), ex.Message);
        Assert.DoesNotContain("System.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadAll_MissingRequiredField_NamesIt()
    {
        Write("empty_instructions", "name: empty_instructions\ndisplay_name: X\n");

        var ex = Assert.Throws<PresetLoadException>(() => Catalog().LoadAll());

        Assert.Contains("empty_instructions.yaml, line 1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("required field 'instructions' is missing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadAll_InvalidValue_NamesFieldAndLine()
    {
        Write("hot", "name: hot\ndisplay_name: Hot\ninstructions: Hi\ntemperature: 7\n");

        var ex = Assert.Throws<PresetLoadException>(() => Catalog().LoadAll());

        Assert.Contains("hot.yaml, line 4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'temperature'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadAll_NameNotMatchingFile_IsAnError()
    {
        Write("alpha", "name: beta\ndisplay_name: B\ninstructions: Hi\n");

        var ex = Assert.Throws<PresetLoadException>(() => Catalog().LoadAll());

        Assert.Contains("name: alpha", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadAll_SeveralBrokenFiles_ReportsAll()
    {
        Write("a", "name: a\n");
        Write("b", "name: b\ndisplay_name: B\ninstructions: Hi\nbogus: 1\n");

        var ex = Assert.Throws<PresetLoadException>(() => Catalog().LoadAll());

        Assert.Contains("a.yaml", ex.Message, StringComparison.Ordinal);
        Assert.Contains("b.yaml", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Get_FileEdited_ReturnsNewVersionWithoutRestart()
    {
        var path = Write("live", "name: live\ndisplay_name: Live\ninstructions: First.\n");
        var catalog = Catalog();
        var first = catalog.Get("live");

        File.WriteAllText(path, "name: live\ndisplay_name: Live\ninstructions: Second, longer.\n");
        var second = catalog.Get("live");

        Assert.Equal("First.", first.Instructions);
        Assert.Equal("Second, longer.", second.Instructions);
        Assert.NotEqual(first.Version, second.Version);
    }

    [Fact]
    public void Get_EditBreaksFile_KeepsLastGoodVersion()
    {
        var path = Write("steady", "name: steady\ndisplay_name: Steady\ninstructions: Good.\n");
        var catalog = Catalog();
        catalog.Get("steady");

        File.WriteAllText(path, "name: steady\ndisplay_name: Steady\ninstructions: [broken and longer\n");

        Assert.Equal("Good.", catalog.Get("steady").Instructions);
    }

    [Fact]
    public void Problems_EditBreaksFileThenFixed_SaysSoUntilFixed()
    {
        var path = Write("steady", "name: steady\ndisplay_name: Steady\ninstructions: Good.\n");
        Write("broken", "name: broken\ninstructions: [never valid\n");
        var catalog = Catalog();
        catalog.Get("steady");

        var before = Assert.Single(catalog.Problems());
        Assert.Equal("broken", before.Name);
        Assert.False(before.KeepsEarlierVersion);
        Assert.Contains("broken.yaml", before.Message, StringComparison.Ordinal);

        File.WriteAllText(path, "name: steady\ndisplay_name: Steady\ninstructions: [broken and longer\n");
        var edited = Assert.Single(catalog.Problems(), p => p.Name == "steady");
        Assert.True(edited.KeepsEarlierVersion);

        File.WriteAllText(path, "name: steady\ndisplay_name: Steady\ninstructions: Fixed, at last.\n");
        File.Delete(Path.Combine(_folder.FullName, "broken.yaml"));
        Assert.Empty(catalog.Problems());
    }

    [Fact]
    public void Get_UnknownOrPathLikeName_ThrowsNotFoundListingKnown()
    {
        Write("known", "name: known\ndisplay_name: K\ninstructions: Hi\n");
        var catalog = Catalog();

        var ex = Assert.Throws<PresetNotFoundException>(() => catalog.Get("nope"));
        Assert.Contains("known", ex.Message, StringComparison.Ordinal);
        Assert.Throws<PresetNotFoundException>(() => catalog.Get("../known"));
    }
}
