using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Web;

/// <summary>The web host as a process bound to every interface: which sign-in settings let it start, and what it says when they do not.</summary>
public sealed partial class WebHostSignInTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-web-signin-");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Dictionary<string, string> Environment(params (string Key, string Value)[] extra)
    {
        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName;
        File.WriteAllText(Path.Combine(agents, "assistant.yaml"), TestEngine.Preset("assistant"));
        var environment = new Dictionary<string, string>
        {
            ["STEWARD_DB"] = Path.Combine(_folder.FullName, "steward.db"),
            ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
            ["Steward__Agents__Directory"] = agents,
            ["Logging__LogLevel__Default"] = "None",
        };
        foreach (var (key, value) in extra)
        {
            environment[key] = value;
        }

        return environment;
    }

    /// <summary>Starts the app on 0.0.0.0; returns its exit code and output once it exits, or null and what it printed once /healthz answers.</summary>
    private static async Task<(int? ExitCode, string Stdout, string Stderr)> StartOnEveryInterfaceAsync(Dictionary<string, string> environment)
    {
        var port = FreePort();
        using var process = CliProcess.StartDll(CliProcess.WebDll, environment, "--urls", $"http://0.0.0.0:{port}");
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (stdout) { stdout.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (stderr) { stderr.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        try
        {
            if (await Steward.TestSupport.WebAppHealth.WaitAsync(http, process, Ct))
            {
                return (null, Text(stdout), Text(stderr));
            }

            if (process.HasExited)
            {
                await process.WaitForExitAsync(Ct);
                return (process.ExitCode, Text(stdout), Text(stderr));
            }

            throw new TimeoutException("The app neither exited nor answered /healthz:\n" + Text(stdout) + Text(stderr));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(Ct);
            }
        }

        static string Text(System.Text.StringBuilder builder)
        {
            lock (builder)
            {
                return builder.ToString();
            }
        }
    }

    [Fact]
    public async Task NoSignIn_RefusalNamesTheSettingsToSet()
    {
        var (exit, _, stderr) = await StartOnEveryInterfaceAsync(Environment());

        Assert.Equal(1, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Steward:Auth:LocalAccounts=true", line, StringComparison.Ordinal);
        Assert.Contains("STEWARD_LOCAL_ACCOUNTS=true", line, StringComparison.Ordinal);
        Assert.Contains("Steward:Auth:Oidc:Authority", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LocalAccountsWithoutAUserOrSetupToken_RefusedSoNoFirstRunPageIsOpenToTheNetwork()
    {
        var (exit, _, stderr) = await StartOnEveryInterfaceAsync(Environment(("STEWARD_LOCAL_ACCOUNTS", "true")));

        Assert.Equal(1, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Steward cannot start: local accounts are on but there is no user yet", line, StringComparison.Ordinal);
        Assert.Contains("steward users add NAME --role admin", line, StringComparison.Ordinal);
        Assert.Contains("Steward:Auth:SetupToken=print", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LocalAccountsWithAUser_StartsOnEveryInterface()
    {
        var environment = Environment(("STEWARD_LOCAL_ACCOUNTS", "true"));
        var add = await CliProcess.RunWithInputAsync(environment, "correct horse battery\n", "users", "add", "root", "--role", "admin");
        Assert.Equal(0, add.ExitCode);

        var (exit, stdout, stderr) = await StartOnEveryInterfaceAsync(environment);

        Assert.True(exit is null, "the app should have started: " + stdout + stderr);
        Assert.DoesNotContain("no user yet", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SetupTokenPrint_StartsAndPrintsAOneTimeTokenOnTheConsoleOnly()
    {
        var (exit, stdout, stderr) = await StartOnEveryInterfaceAsync(Environment(("STEWARD_LOCAL_ACCOUNTS", "true"), ("Steward__Auth__SetupToken", "print")));

        Assert.True(exit is null, "the app should have started: " + stdout + stderr);
        var token = SetupLink().Match(stdout);
        Assert.True(token.Success, "the console names the first-run page with its token: " + stdout);
        Assert.Equal(32, token.Groups[1].Value.Length);
    }

    [Fact]
    public async Task OidcHalfConfigured_RefusedListingEveryProblem()
    {
        var (exit, _, stderr) = await StartOnEveryInterfaceAsync(Environment(
            ("STEWARD_OIDC_AUTHORITY", "http://issuer.example"), ("Steward__Auth__Oidc__RoleMap__Admins", "owner"), ("STEWARD_OIDC_CLIENT_SECRET", "s3cr3t-value-9d2")));

        Assert.Equal(1, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Steward:Auth:Oidc:Authority must use https", line, StringComparison.Ordinal);
        Assert.Contains("Steward:Auth:Oidc:ClientId is required", line, StringComparison.Ordinal);
        Assert.Contains("Steward:Auth:Oidc:RoleMap:Admins must be viewer, operator or admin (it is 'owner')", line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-value-9d2", line, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"/setup\?token=([0-9a-f]+)")]
    private static partial Regex SetupLink();
}
