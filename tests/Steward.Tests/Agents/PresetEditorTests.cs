using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Steward.Agents;

namespace Steward.Tests.Agents;

public sealed class PresetEditorTests : IDisposable
{
    private const string Valid = """
        name: helper
        display_name: Helper
        instructions: Help.
        max_output_tokens: 300
        """;

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-preset-edit-");

    public void Dispose()
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_folder.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        _folder.Delete(recursive: true);
    }

    private PresetCatalog Catalog(string? folder = null) =>
        new(Options.Create(new PresetOptions { Directory = folder ?? _folder.FullName }), NullLogger<PresetCatalog>.Instance);

    [Fact]
    public void Save_NewValidPreset_WrittenAndTheCatalogRunsIt()
    {
        var catalog = Catalog();
        var editor = new PresetEditor(catalog);

        Assert.Empty(editor.Save("helper", Valid, create: true));

        Assert.Equal(300, catalog.Get("helper").MaxOutputTokens);
        Assert.Equal(Valid, File.ReadAllText(Path.Combine(_folder.FullName, "helper.yaml")));
        Assert.Equal(["helper.yaml"], _folder.GetFiles().Select(f => f.Name));
    }

    [Fact]
    public void Save_EditOfAPresetInUse_NextLookupHasTheNewVersionWithoutRestart()
    {
        var catalog = Catalog();
        var editor = new PresetEditor(catalog);
        Assert.Empty(editor.Save("helper", Valid, create: true));
        var before = catalog.Get("helper");

        Assert.Empty(editor.Save("helper", Valid.Replace("300", "450", StringComparison.Ordinal), create: false));

        var after = catalog.Get("helper");
        Assert.Equal(450, after.MaxOutputTokens);
        Assert.NotEqual(before.Version, after.Version);
    }

    [Fact]
    public void Save_InvalidField_ProblemWithItsLineAndTheFileUnchanged()
    {
        var catalog = Catalog();
        var editor = new PresetEditor(catalog);
        Assert.Empty(editor.Save("helper", Valid, create: true));

        var problems = editor.Save("helper", Valid.Replace("300", "-5", StringComparison.Ordinal), create: false);

        var problem = Assert.Single(problems);
        Assert.Equal(4, problem.Line);
        Assert.Contains("max_output_tokens", problem.Message, StringComparison.Ordinal);
        Assert.Equal(Valid, File.ReadAllText(Path.Combine(_folder.FullName, "helper.yaml")));
        Assert.Equal(300, catalog.Get("helper").MaxOutputTokens);
    }

    [Fact]
    public void Save_SeveralInvalidFields_EveryProblemListedWithItsLine()
    {
        var editor = new PresetEditor(Catalog());
        var text = Valid.Replace("300", "-5", StringComparison.Ordinal) + "\ntemperature: 9\ncolour: blue\n";

        var problems = editor.Save("helper", text, create: true);

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Line == 4 && p.Message.Contains("max_output_tokens", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Message.Contains("'temperature' must be between 0 and 2", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Message.StartsWith("unknown field 'colour'", StringComparison.Ordinal));
        Assert.Empty(_folder.GetFiles());
    }

    [Fact]
    public void Save_FileChangedSinceItWasOpened_RefusedAndTheOtherChangeKept()
    {
        var catalog = Catalog();
        var editor = new PresetEditor(catalog);
        Assert.Empty(editor.Save("helper", Valid, create: true));
        var opened = editor.Read("helper");
        var theirs = Valid.Replace("300", "200", StringComparison.Ordinal);
        Assert.Empty(editor.Save("helper", theirs, create: false, openedText: editor.Read("helper")));

        var problems = editor.Save("helper", Valid.Replace("300", "400", StringComparison.Ordinal), create: false, openedText: opened);

        Assert.Contains("changed by someone else since you opened it", Assert.Single(problems).Message, StringComparison.Ordinal);
        Assert.Equal(theirs, File.ReadAllText(Path.Combine(_folder.FullName, "helper.yaml")));
        Assert.Equal(200, catalog.Get("helper").MaxOutputTokens);
    }

    [Fact]
    public void Save_BrokenYamlAndNameMismatch_EachReportedAsTheCatalogWould()
    {
        var editor = new PresetEditor(Catalog());

        var syntax = Assert.Single(editor.Save("helper", "name: helper\ndisplay_name: [Helper\ninstructions: Help.\n", create: true));
        var mismatch = Assert.Single(editor.Save("helper", Valid.Replace("name: helper", "name: other", StringComparison.Ordinal), create: true));
        var badName = Assert.Single(editor.Save("Bad Name", Valid, create: true));

        Assert.NotNull(syntax.Line);
        Assert.Equal(1, mismatch.Line);
        Assert.Contains("Make them match", mismatch.Message, StringComparison.Ordinal);
        Assert.Contains("not a valid preset name", badName.Message, StringComparison.Ordinal);
        Assert.Empty(_folder.GetFiles());
    }

    [Fact]
    public void Save_NewPresetWithATakenName_RefusedAndTheOldFileKept()
    {
        var editor = new PresetEditor(Catalog());
        Assert.Empty(editor.Save("helper", Valid, create: true));

        var problem = Assert.Single(editor.Save("helper", Valid.Replace("300", "400", StringComparison.Ordinal), create: true));

        Assert.Contains("exists already", problem.Message, StringComparison.Ordinal);
        Assert.Equal(Valid, File.ReadAllText(Path.Combine(_folder.FullName, "helper.yaml")));
    }

    [Fact]
    public void Save_ReadOnlyFolder_SaysSoAndWritesNothing()
    {
        var folder = UnwritableFolder();
        var before = Directory.GetFileSystemEntries(folder).Length;

        var problem = Assert.Single(new PresetEditor(Catalog(folder)).Save("helper", Valid, create: true));

        Assert.Contains("is read-only for Steward", problem.Message, StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFileSystemEntries(folder).Length);
    }

    [Fact]
    public void Delete_ExistingPreset_GoneFromTheCatalog()
    {
        var catalog = Catalog();
        var editor = new PresetEditor(catalog);
        Assert.Empty(editor.Save("helper", Valid, create: true));
        Assert.Single(catalog.List());

        Assert.Null(editor.Delete("helper"));

        Assert.Empty(catalog.List());
        Assert.Throws<PresetNotFoundException>(() => catalog.Get("helper"));
        Assert.NotNull(editor.Delete("helper"));
    }

    // A folder this process cannot write to: a mode-0555 folder, or (as root, whom modes do not stop) a kernel folder.
    private string UnwritableFolder()
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_folder.FullName, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            if (!CanWrite(_folder.FullName))
            {
                return _folder.FullName;
            }
        }

        const string kernel = "/sys/kernel";
        Assert.True(Directory.Exists(kernel) && !CanWrite(kernel),
            "No unwritable folder to test with: running as root and /sys/kernel is missing or writable.");
        return kernel;
    }

    private static bool CanWrite(string folder)
    {
        var probe = Path.Combine(folder, ".probe-" + Guid.NewGuid().ToString("N"));
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return true;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }
}
