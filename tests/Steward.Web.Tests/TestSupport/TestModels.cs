namespace Steward.Web.Tests.TestSupport;

/// <summary>
/// Finds the shared GGUF test models: <c>STEWARD_TEST_MODELS</c>, else <c>../shared/models</c> beside the repository.
/// Missing models skip the test on a developer machine and fail it in CI (<c>CI=true</c>).
/// </summary>
public static class TestModels
{
    public static string Require(string fileName)
    {
        var folder = Environment.GetEnvironmentVariable("STEWARD_TEST_MODELS") is { Length: > 0 } configured ? configured : FindShared();
        var path = folder is null ? null : Path.Combine(folder, fileName);
        if (path is not null && File.Exists(path))
        {
            return path;
        }

        Requirement.Missing($"Test model '{fileName}' not found: set STEWARD_TEST_MODELS or place the shared models in ../shared/models beside the repository.");
        return "";
    }

    private static string? FindShared()
    {
        var root = RepositoryRoot.Find();
        if (root is null)
        {
            return null;
        }

        var shared = Path.Combine(root, "..", "shared", "models");
        return Directory.Exists(shared) ? Path.GetFullPath(shared) : null;
    }
}

/// <summary>A missing prerequisite skips a test on a developer machine and fails it in CI.</summary>
public static class Requirement
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static void Missing(string message)
    {
        if (InCi)
        {
            Assert.Fail(message);
        }

        Assert.Skip(message);
    }
}

public static class RepositoryRoot
{
    /// <summary>The checkout holding the tests: above the test output, or (built with an outside artifacts path) above the working directory.</summary>
    public static string? Find() => FindAbove(AppContext.BaseDirectory) ?? FindAbove(Directory.GetCurrentDirectory());

    private static string? FindAbove(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Steward.slnx")))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
