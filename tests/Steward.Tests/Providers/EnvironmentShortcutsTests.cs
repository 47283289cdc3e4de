using Steward.Providers;

namespace Steward.Tests.Providers;

/// <summary>
/// <c>dotnet run --project src/Steward.Web</c> starts the web app in its project folder, so a relative
/// <c>STEWARD_MODEL</c> typed at the repository's root must be read from the shell's folder (<c>PWD</c>).
/// </summary>
public sealed class EnvironmentShortcutsTests : IDisposable
{
    private readonly DirectoryInfo _callersFolder = Directory.CreateTempSubdirectory("steward-caller-");

    public void Dispose() => _callersFolder.Delete(recursive: true);

    [Fact]
    public void Map_RelativeModelFileInTheCallersFolder_IsTakenFromThere()
    {
        var file = Path.Combine(_callersFolder.FullName, "models", "tiny.gguf");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllBytes(file, [0x47, 0x47, 0x55, 0x46]);

        var map = EnvironmentShortcuts.Map(new Dictionary<string, string?> { ["STEWARD_MODEL"] = "models/tiny.gguf", ["PWD"] = _callersFolder.FullName });

        Assert.Equal(file, map["Steward:Providers:local:Model"]);
    }

    [Theory]
    [InlineData("smollm2-360m")]
    [InlineData("models/missing.gguf")]
    public void Map_ModelNameOrAFileFoundNowhere_IsKeptAsGiven(string model)
    {
        var map = EnvironmentShortcuts.Map(new Dictionary<string, string?> { ["STEWARD_MODEL"] = model, ["PWD"] = _callersFolder.FullName });

        Assert.Equal(model, map["Steward:Providers:local:Model"]);
    }
}
