using System.Runtime.CompilerServices;
using Xunit;

namespace Steward.LocalModels.Tests.TestSupport;

/// <summary>
/// Finds the shared test models: the STEWARD_TEST_MODELS environment variable, else <c>../shared/models</c>
/// next to the repository root (the folder holding Steward.slnx). When neither exists the test is skipped,
/// except on CI (CI=true), where a missing model folder is a failure rather than a silent pass.
/// </summary>
public static class TestModels
{
    private static readonly Lazy<string?> Folder = new(Locate);

    /// <summary>The models folder, or null when it cannot be found.</summary>
    public static string? Directory => Folder.Value;

    /// <summary>Full path of <paramref name="fileName"/> in the models folder; skips (or fails on CI) when absent.</summary>
    public static string RequirePath(string fileName)
    {
        var folder = Folder.Value;
        var path = folder is null ? null : Path.Combine(folder, fileName);
        if (path is not null && File.Exists(path))
        {
            return path;
        }

        var message = $"Test model '{fileName}' not found (set STEWARD_TEST_MODELS or provide ../shared/models beside the repository).";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(message);
        }

        Assert.Skip(message);
        return null!; // unreachable: Assert.Skip throws
    }

    private static string? Locate()
    {
        var fromEnv = Environment.GetEnvironmentVariable("STEWARD_TEST_MODELS");
        if (!string.IsNullOrEmpty(fromEnv) && System.IO.Directory.Exists(fromEnv))
        {
            return fromEnv;
        }

        // The build output may live outside the repository (--artifacts-path), so the source file's own location
        // (recorded at compile time) and the working directory are tried too.
        foreach (var start in new[] { AppContext.BaseDirectory, SourceDirectory(), Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Steward.slnx")))
                {
                    var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "models"));
                    if (System.IO.Directory.Exists(candidate))
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
        Path.GetDirectoryName(path) is { Length: > 0 } dir ? dir : Environment.CurrentDirectory;
}
