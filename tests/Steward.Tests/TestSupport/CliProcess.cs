using System.Diagnostics;
using System.Text;

namespace Steward.Tests.TestSupport;

/// <summary>Runs the real <c>steward</c> CLI as a child process, as a user would.</summary>
public static class CliProcess
{
    /// <summary>
    /// The CLI from its own build output (same configuration as the tests), so it runs with its own dependency
    /// manifest, exactly as <c>dotnet run --project src/Steward.Cli</c> does.
    /// </summary>
    public static string CliDll { get; } = FindBuildOutput("Steward.Cli");

    /// <summary>The multi-process budget test's child.</summary>
    public static string LedgerStressDll { get; } = FindBuildOutput("Steward.LedgerStress", "tests");

    /// <summary>The stdio MCP server of the tests.</summary>
    public static string McpTestServerDll { get; } = FindBuildOutput("Steward.McpTestServer", "tests");

    /// <summary>The web host from its own build output.</summary>
    public static string WebDll { get; } = FindBuildOutput("Steward.Web");

    private static string FindBuildOutput(string project, string folder = "src")
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testOutput.Name;
        var configuration = testOutput.Parent!.Name;
        var root = testOutput;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Steward.slnx")))
        {
            root = root.Parent;
        }

        var candidates = new[]
        {
            root is null ? null : Path.Combine(root.FullName, folder, project, "bin", configuration, framework, project + ".dll"),
            root is null ? null : Path.Combine(root.FullName, "artifacts", "bin", project, configuration.ToLowerInvariant(), project + ".dll"),

            // Built with --artifacts-path elsewhere: bin/Steward.Tests/debug beside bin/Steward.Cli/debug.
            testOutput.Parent?.Parent is { } artifactsBin ? Path.Combine(artifactsBin.FullName, project, testOutput.Name, project + ".dll") : null,
        };
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"The {project} build output was not found; build the solution first.", candidates[0]);
    }

    public static Process Start(IReadOnlyDictionary<string, string> environment, params string[] args) => StartDll(CliDll, environment, args);

    /// <summary>
    /// Starts the CLI as a terminal would, with Ctrl+C (SIGINT) at its default handling. A test host started in the background
    /// (<c>dotnet test &amp;</c>, as scripts and CI harnesses do) has SIGINT ignored and its children inherit that; .NET, like
    /// every POSIX program, then never sees the signal (a background job is not meant to be stopped by the terminal's Ctrl+C),
    /// and a Ctrl+C test would wait forever for an exit nobody asked for. GNU env's <c>--default-signal</c> restores it.
    /// </summary>
    public static Process StartInterruptible(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartDll(CliDll, environment, args, launcher: ["env", "--default-signal=INT", "dotnet"]);

    public static Process StartDll(string dll, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartDll(dll, environment, args, launcher: ["dotnet"]);

    private static Process StartDll(string dll, IReadOnlyDictionary<string, string> environment, string[] args, string[] launcher)
    {
        var info = new ProcessStartInfo(launcher[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var arg in launcher.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // The child must not pick up the developer's own provider settings.
        foreach (var name in new[] { "OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OLLAMA_HOST", "AZURE_AI_PROJECT_ENDPOINT", "AZURE_AI_PROJECT_API_KEY", "APPLICATIONINSIGHTS_CONNECTION_STRING", "STEWARD_MODEL", "STEWARD_MODELS", "STEWARD_DB" })
        {
            info.Environment.Remove(name);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return Process.Start(info)!;
    }

    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        RunWithInputAsync(environment, "", args);

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunWithInputAsync(
        IReadOnlyDictionary<string, string> environment, string input, params string[] args)
    {
        using var process = Start(environment, args);
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
