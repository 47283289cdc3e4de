using System.Runtime.CompilerServices;

namespace Steward.TestSupport;

/// <summary>
/// Where the small GGUF test models are: the folder named by <c>STEWARD_TEST_MODELS</c>, else the repository's own
/// <c>tests/models</c>. Shared by every test project (linked in by Directory.Build.props).
/// </summary>
internal static class TestModelFolder
{
    private static readonly Lazy<string?> Folder = new(Locate);

    /// <summary>The models folder, or <see langword="null"/> when neither the variable nor the repository's folder exists.</summary>
    public static string? Path => Folder.Value;

    /// <summary>The full path of <paramref name="fileName"/> in the models folder, or <see langword="null"/> when it is absent.</summary>
    public static string? Find(string fileName) =>
        Folder.Value is { } folder && File.Exists(System.IO.Path.Combine(folder, fileName)) ? System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, fileName)) : null;

    /// <summary>The message a test gives when a model is missing.</summary>
    public static string MissingMessage(string fileName) =>
        $"Test model '{fileName}' not found in tests/models (or the folder STEWARD_TEST_MODELS names).";

    private static string? Locate()
    {
        if (Environment.GetEnvironmentVariable("STEWARD_TEST_MODELS") is { Length: > 0 } configured)
        {
            return Directory.Exists(configured) ? System.IO.Path.GetFullPath(configured) : null;
        }

        // The build output may live outside the repository (--artifacts-path), so this file's own location (recorded at
        // compile time) and the working directory are tried too.
        foreach (var start in new[] { AppContext.BaseDirectory, SourceDirectory(), Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "Steward.slnx")))
                {
                    var candidate = System.IO.Path.Combine(dir.FullName, "tests", "models");
                    if (Directory.Exists(candidate))
                    {
                        return candidate;
                    }

                    break;
                }
            }
        }

        return null;
    }

    private static string SourceDirectory([CallerFilePath] string path = "") =>
        System.IO.Path.GetDirectoryName(path) is { Length: > 0 } dir ? dir : Environment.CurrentDirectory;
}
