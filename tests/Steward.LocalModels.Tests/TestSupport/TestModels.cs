using Steward.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.TestSupport;

/// <summary>
/// The test models (tests/models, or STEWARD_TEST_MODELS). A missing model skips the test on a developer machine
/// and fails it in CI (CI=true), where a missing file is a failure rather than a silent pass.
/// </summary>
public static class TestModels
{
    /// <summary>The models folder, or null when it cannot be found.</summary>
    public static string? Directory => TestModelFolder.Path;

    /// <summary>Full path of <paramref name="fileName"/> in the models folder; skips (or fails on CI) when absent.</summary>
    public static string RequirePath(string fileName)
    {
        if (TestModelFolder.Find(fileName) is { } path)
        {
            return path;
        }

        var message = TestModelFolder.MissingMessage(fileName);
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(message);
        }

        Assert.Skip(message);
        return null!; // unreachable: Assert.Skip throws
    }
}
