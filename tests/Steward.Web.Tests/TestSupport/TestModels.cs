using Steward.TestSupport;

namespace Steward.Web.Tests.TestSupport;

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

        Requirement.Missing(TestModelFolder.MissingMessage(fileName));
        return "";
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
