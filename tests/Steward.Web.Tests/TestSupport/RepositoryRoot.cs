namespace Steward.Web.Tests.TestSupport;

/// <summary>Finds the repository checkout (the folder holding <c>Steward.slnx</c>). Linked into the web soak too.</summary>
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
