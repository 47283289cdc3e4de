using Steward.TestSupport;

namespace Steward.Tests.TestSupport;

/// <summary>
/// The GGUF test models (tests/models, or STEWARD_TEST_MODELS). A missing model skips the test on a developer
/// machine and fails it in CI (<c>CI=true</c>).
/// </summary>
public static class TestModels
{
    public static string Require(string fileName)
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
        return "";
    }
}
