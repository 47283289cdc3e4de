using System.Net;
using System.Net.Sockets;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Web;

/// <summary>The web host started as a process on a loopback port, as <c>dotnet run --project src/Steward.Web</c> does.</summary>
public sealed class WebHostTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-web-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Dictionary<string, string> Environment(string agents) => new()
    {
        ["STEWARD_DB"] = Path.Combine(_folder.FullName, "steward.db"),
        ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
        ["Steward__Agents__Directory"] = agents,
    };

    [Fact]
    public async Task Healthz_AnswersOkAndHomeExplainsHowToGetAModel()
    {
        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName;
        await File.WriteAllTextAsync(Path.Combine(agents, "assistant.yaml"), TestEngine.Preset("assistant"), TestContext.Current.CancellationToken);
        var url = $"http://127.0.0.1:{FreePort()}";
        using var process = CliProcess.StartDll(CliProcess.WebDll, Environment(agents), "--urls", url);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(url) };
            var healthy = await Steward.TestSupport.WebAppHealth.WaitAsync(http, process, TestContext.Current.CancellationToken);
            Assert.True(healthy, "the app never answered /healthz");
            var home = await http.GetStringAsync("/", TestContext.Current.CancellationToken);
            Assert.Contains("Test assistant", home, StringComparison.Ordinal);
            Assert.Contains("models pull smollm2-360m", home, StringComparison.Ordinal);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>With no sign-in, an address other machines reach is refused in one line, however it was set.</summary>
    [Theory]
    [InlineData("--urls", "http://0.0.0.0:{port}")]
    [InlineData("--urls", "http://[::]:{port}")]
    [InlineData("--urls", "http://steward.example:{port}")]
    [InlineData("ASPNETCORE_URLS", "http://+:{port}")]
    [InlineData("Kestrel__Endpoints__Public__Url", "http://0.0.0.0:{port}")]
    public async Task NonLoopbackBind_RefusedInOneLine(string setting, string url)
    {
        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName;
        var address = url.Replace("{port}", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var environment = Environment(agents);
        environment["Logging__LogLevel__Default"] = "None";
        string[] args = setting.StartsWith("--", StringComparison.Ordinal) ? [setting, address] : [];
        if (args.Length == 0)
        {
            environment[setting] = address;
        }

        using var process = CliProcess.StartDll(CliProcess.WebDll, environment, args);
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            // A server that started after all must not outlive the test.
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        Assert.Equal(1, process.ExitCode);
        var line = Assert.Single((await errors).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Steward cannot start: it listens on http://", line, StringComparison.Ordinal);
        Assert.Contains("which other machines can reach", line, StringComparison.Ordinal);
        Assert.Contains("--urls http://localhost:5080", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", await output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokenPreset_StopsStartUpNamingFileAndLine()
    {
        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName;
        await File.WriteAllTextAsync(Path.Combine(agents, "bad.yaml"), "name: bad\ndisplay_name: Bad\ninstructions: Hi\nmodle: x\n", TestContext.Current.CancellationToken);
        using var process = CliProcess.StartDll(CliProcess.WebDll, Environment(agents), "--urls", $"http://127.0.0.1:{FreePort()}");
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(1, process.ExitCode);
        var error = (await errors).Trim();
        Assert.StartsWith("Steward cannot start: ", error, StringComparison.Ordinal);
        Assert.Contains("bad.yaml, line 4: unknown field 'modle'", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", await output + error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DatabaseThatIsNotSqlite_StopsStartUpNamingItAndCreatesNothingBesideIt()
    {
        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName;
        await File.WriteAllTextAsync(Path.Combine(agents, "assistant.yaml"), TestEngine.Preset("assistant"), TestContext.Current.CancellationToken);
        var notADatabase = Path.Combine(_folder.FullName, "passwd");
        await File.WriteAllTextAsync(notADatabase, "root:x:0:0:root:/root:/bin/bash\n", TestContext.Current.CancellationToken);
        var env = Environment(agents);
        env["STEWARD_DB"] = notADatabase;
        using var process = CliProcess.StartDll(CliProcess.WebDll, env, "--urls", $"http://127.0.0.1:{FreePort()}");
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(1, process.ExitCode);
        var error = (await errors).Trim();
        Assert.Equal($"Steward cannot start: Steward:Storage:Database (STEWARD_DB) is '{notADatabase}', which Steward cannot use: it is not a SQLite database. " +
            "Point the setting at a Steward database, or at a new file to create one.", error);
        Assert.DoesNotContain("   at ", await output + error, StringComparison.Ordinal);
        Assert.Equal(["passwd"], Directory.GetFiles(_folder.FullName).Select(Path.GetFileName));
        Assert.Equal("root:x:0:0:root:/root:/bin/bash\n", await File.ReadAllTextAsync(notADatabase, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task DatabaseInAFolderThatDoesNotExist_StopsStartUpNamingTheFolderAndCreatesNothing()
    {
        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName;
        await File.WriteAllTextAsync(Path.Combine(agents, "assistant.yaml"), TestEngine.Preset("assistant"), TestContext.Current.CancellationToken);
        var missing = Path.Combine(_folder.FullName, "no-such-folder");
        var env = Environment(agents);
        env["STEWARD_DB"] = Path.Combine(missing, "steward.db");
        using var process = CliProcess.StartDll(CliProcess.WebDll, env, "--urls", $"http://127.0.0.1:{FreePort()}");
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(1, process.ExitCode);
        var error = (await errors).Trim();
        Assert.StartsWith("Steward cannot start: ", error, StringComparison.Ordinal);
        Assert.Contains($"the folder '{missing}' does not exist", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", await output + error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(missing));
    }
}
