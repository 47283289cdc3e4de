namespace Steward.Tests.TestSupport;

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

        var message = $"Test model '{fileName}' not found: set STEWARD_TEST_MODELS or place the shared models in ../shared/models beside the repository.";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(message);
        }

        Assert.Skip(message);
        return "";
    }

    private static string? FindShared()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Steward.slnx")))
            {
                var shared = Path.Combine(dir.FullName, "..", "shared", "models");
                return Directory.Exists(shared) ? Path.GetFullPath(shared) : null;
            }
        }

        return null;
    }
}
