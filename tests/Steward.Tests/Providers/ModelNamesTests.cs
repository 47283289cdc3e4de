using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Providers;

namespace Steward.Tests.Providers;

/// <summary>A model name is never markup or a control character, and every real model name passes.</summary>
public sealed class ModelNamesTests
{
    [Theory]
    [InlineData("gpt-4o-2024-08-06")]
    [InlineData("gpt-4.1-mini")]
    [InlineData("o1-preview")]
    [InlineData("org/model:tag")]
    [InlineData("llama3.2:1b-instruct-q4_K_M")]
    [InlineData("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M")]
    [InlineData("meta-llama/llama-3.1-8b-instruct:free")]
    [InlineData("anthropic.claude-3-5-sonnet-20240620-v1:0")]
    [InlineData("publishers/google/models/gemini-1.5-pro@001")]
    [InlineData("accounts/fireworks/models/llama-v3p1-8b-instruct")]
    [InlineData("lmstudio-community/Meta-Llama-3-8B-Instruct-GGUF/Meta-Llama-3-8B-Instruct-Q4_K_M.gguf")]
    [InlineData("gpt-4o-prod")]
    [InlineData("my_deployment.v2")]
    [InlineData("/home/me/My Models/SmolLM2-360M-Instruct (Q8_0) [v2] #1 & co's.gguf")]
    [InlineData(@"C:\Users\Zoë\models\qwen2.5-0.5b-instruct-q4_k_m.gguf")]
    [InlineData("~/models/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf")]
    [InlineData("通义千问-7b")]
    [InlineData("smollm2-360m")]
    public void Problem_RealModelNames_None(string name) => Assert.Null(ModelNames.Problem(name));

    [Theory]
    [InlineData("<img src=x onerror=alert(1)>", "contains '<'")]
    [InlineData("gpt-4o>", "contains '>'")]
    [InlineData("gpt\"4o", "contains '\"'")]
    [InlineData("gpt`4o", "contains '`'")]
    [InlineData("gpt-4o\ninjected", "control character U+000A")]
    [InlineData("gpt-4o\u001b[31m", "control character U+001B")]
    [InlineData("gpt-4o\u202Egnp.exe", "control character U+202E")]
    public void Problem_MarkupOrControlCharacters_Named(string name, string expected) =>
        Assert.Contains(expected, ModelNames.Problem(name), StringComparison.Ordinal);

    [Fact]
    public void Resolve_RequestedModelWithMarkup_ArgumentExceptionInOneLine()
    {
        var catalog = new ProviderCatalog(Options.Create(new ProvidersOptions()));

        var ex = Assert.Throws<ArgumentException>(() => catalog.Resolve(null, "<img src=x onerror=alert(1)>"));

        Assert.Equal("model '<img src=x onerror=alert(1)>' contains '<', which no model name has (names look like gpt-4o-2024-08-06, org/model:tag or a .gguf path).", ex.Message);
    }

    [Fact]
    public void Validate_ConfiguredModelWithMarkup_NamesTheKey()
    {
        var options = new ProvidersOptions();
        options.Providers["lab"] = new ProviderOptions { Kind = ProviderKinds.OpenAICompatible, Endpoint = "http://127.0.0.1:8000/v1", Model = "<script>x</script>" };

        var result = new ProvidersOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.StartsWith("Steward:Providers:lab:Model '<script>x</script>' contains '<'", StringComparison.Ordinal));
    }

    [Fact]
    public void PresetFile_ModelWithMarkup_NamesFileLineAndField()
    {
        var folder = Directory.CreateTempSubdirectory("steward-presets-");
        try
        {
            File.WriteAllText(Path.Combine(folder.FullName, "evil.yaml"), "name: evil\ndisplay_name: Evil\ninstructions: Hi\nmodel: \"<img src=x onerror=alert(1)>\"\n");
            var catalog = new PresetCatalog(Options.Create(new PresetOptions { Directory = folder.FullName }), NullLogger<PresetCatalog>.Instance);

            var ex = Assert.Throws<PresetLoadException>(() => catalog.LoadAll());

            Assert.Contains("evil.yaml, line 4", ex.Message, StringComparison.Ordinal);
            Assert.Contains("field 'model' '<img src=x onerror=alert(1)>' contains '<'", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
