using Steward.Telemetry;

namespace Steward.Tests.Telemetry;

public sealed class ModelNameTests
{
    [Theory]
    [InlineData("/home/alice/models/stories260K.gguf", "stories260K")]
    [InlineData(@"C:\Users\bob\models\Qwen2.5-0.5B-Instruct-Q4_K_M.GGUF", "Qwen2.5-0.5B-Instruct-Q4_K_M")]
    [InlineData("../shared/models/stories260K.gguf", "stories260K")]
    public void ModelName_GgufFileGivenByPath_IsNamedWithoutWhereItLives(string model, string expected) =>
        Assert.Equal(expected, StewardTelemetry.ModelName(model));

    [Theory]
    [InlineData("gpt-4o-mini")]
    [InlineData("my-azure-deployment")]
    [InlineData("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M")]
    [InlineData("smollm2-360m")]
    public void ModelName_ModelIdsAndNames_AreLeftAsTheyAre(string model) =>
        Assert.Equal(model, StewardTelemetry.ModelName(model));
}
