using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Steward.Web.Tests.TestSupport;

/// <summary>
/// The web app started from its own build output as a child process on a loopback port, as
/// <c>dotnet run --project src/Steward.Web</c> runs it, with a database and folders of its own. Linked into the web soak.
/// </summary>
public sealed class WebAppProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private WebAppProcess(Process process, string url)
    {
        _process = process;
        BaseUrl = url;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string BaseUrl { get; }

    /// <summary>The app's process id, to measure it from outside.</summary>
    public int ProcessId => _process.Id;

    /// <summary>What the app printed so far (for failure messages).</summary>
    public string Output { get { lock (_output) { return _output.ToString(); } } }

    public static string WebDll { get; } = FindBuildOutput("Steward.Web");

    public static async Task<WebAppProcess> StartAsync(IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var url = $"http://127.0.0.1:{FreePort()}";
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(WebDll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(url);
        // The child must not pick up the developer's own provider settings.
        foreach (var name in new[] { "OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OLLAMA_HOST", "STEWARD_MODEL", "STEWARD_MODELS", "STEWARD_DB", "ASPNETCORE_ENVIRONMENT" })
        {
            info.Environment.Remove(name);
        }

        info.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var app = new WebAppProcess(Process.Start(info)!, url);
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        if (await Steward.TestSupport.WebAppHealth.WaitAsync(http, app._process, cancellationToken))
        {
            return app;
        }

        var output = app.Output;
        await app.DisposeAsync();
        throw new InvalidOperationException("The web app never answered /healthz:\n" + output);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindBuildOutput(string project)
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testOutput.Name;
        var configuration = testOutput.Parent!.Name;
        var root = RepositoryRoot.Find();
        var candidates = new[]
        {
            root is null ? null : Path.Combine(root, "src", project, "bin", configuration, framework, project + ".dll"),
            root is null ? null : Path.Combine(root, "artifacts", "bin", project, configuration.ToLowerInvariant(), project + ".dll"),
            // Built with --artifacts-path elsewhere: bin/Steward.Web.Tests/debug beside bin/Steward.Web/debug.
            testOutput.Parent?.Parent is { } artifactsBin ? Path.Combine(artifactsBin.FullName, project, testOutput.Name, project + ".dll") : null,
        };
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"The {project} build output was not found; build the solution first.", candidates[0]);
    }
}
