using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Steward.Agents;
using Steward.Budgets;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Budgets;

/// <summary>Budget webhooks reach public addresses only, as written and as resolved when the alert is sent.</summary>
public sealed class WebhookAddressTests : CliProcessTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://127.0.0.1:8080/hook")]
    [InlineData("http://127.1/hook")]
    [InlineData("http://2130706433/hook")]
    [InlineData("http://localhost/hook")]
    [InlineData("http://api.localhost./hook")]
    [InlineData("http://10.1.2.3/hook")]
    [InlineData("http://172.20.0.1/hook")]
    [InlineData("http://192.168.1.1/hook")]
    [InlineData("http://100.64.0.1/hook")]
    [InlineData("http://0.0.0.0/hook")]
    [InlineData("http://[::1]/hook")]
    [InlineData("http://[::ffff:169.254.169.254]/hook")]
    [InlineData("http://[fe80::1]/hook")]
    [InlineData("http://[fd00::1]/hook")]
    [InlineData("http://[64:ff9b::a9fe:a9fe]/hook")]
    public async Task Set_PrivateOrLoopbackWebhook_RefusedNamingTheSetting(string webhook)
    {
        var (engine, _) = await BudgetTestSupport.StartAsync();
        await using var __ = engine;

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => engine.Get<BudgetPolicyCatalog>().SetAsync(Policy(webhook), Ct));

        Assert.Contains("private network", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Steward:Budgets:AllowPrivateWebhooks", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://hooks.example.com/steward")]
    [InlineData("http://203.0.113.7:8080/hook")]
    [InlineData("https://[2001:db8::1]/hook")]
    public async Task Set_PublicWebhook_Accepted(string webhook)
    {
        var (engine, _) = await BudgetTestSupport.StartAsync();
        await using var __ = engine;

        await engine.Get<BudgetPolicyCatalog>().SetAsync(Policy(webhook), Ct);
    }

    [Fact]
    public async Task Set_PrivateWebhookWhenAllowed_Accepted()
    {
        var (engine, _) = await BudgetTestSupport.StartAsync(s => s["Steward:Budgets:AllowPrivateWebhooks"] = "true");
        await using var __ = engine;

        await engine.Get<BudgetPolicyCatalog>().SetAsync(Policy("http://127.0.0.1:8080/hook"), Ct);
    }

    [Fact]
    public async Task Configuration_MetadataWebhook_StartupNamesThePolicyAndTheSetting()
    {
        // The engine does not start: its first step (taking this process's lease) reads the budget settings.
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => BudgetTestSupport.StartAsync(s =>
        {
            BudgetTestSupport.Policy(s, 0, "team", "Global", "Monthly", usd: 100);
            s["Steward:Budgets:Policies:0:Webhook"] = "http://169.254.169.254/latest/meta-data/";
        }));

        var failure = Assert.Single(ex.Failures);
        Assert.StartsWith("Steward:Budgets:Policies:0: budget 'team': Webhook 'http://169.254.169.254/latest/meta-data/' points at", failure, StringComparison.Ordinal);
    }

    /// <summary>A name that passed the check when set, then resolves to loopback when the alert is sent (DNS rebinding).</summary>
    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 1)]
    public async Task Send_NameResolvingToLoopback_NotDeliveredUnlessAllowed(bool allow, int delivered)
    {
        await using var hooks = await FakeModelServer.StartAsync();
        var port = new Uri(hooks.BaseUrl).Port;
        var engine = await TestEngine.StartAsync(Server.OpenAIUrl,
            s => s["Steward:Budgets:AllowPrivateWebhooks"] = allow ? "true" : "false",
            services => services.Replace(ServiceDescriptor.Singleton<HostResolver>(new RebindingResolver("hooks.example.test", IPAddress.Loopback))));
        await using var __ = engine;
        await engine.Get<BudgetPolicyCatalog>().SetAsync(Policy($"http://hooks.example.test:{port}/hooks/budget") with { MaxTokens = 100, Thresholds = [1] }, Ct);

        var notes = new List<string>();
        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" },
            p => { if (p.Message.Contains("budget 'hooked' reached", StringComparison.Ordinal)) { notes.Add(p.Message); } return ValueTask.CompletedTask; }, Ct);
        await engine.Get<BudgetAlertNotifier>().Pending;

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Single(notes);
        Assert.Equal(delivered, hooks.Requests.Count(r => r.Path == "/hooks/budget"));
    }

    [Fact]
    public async Task CliSet_MetadataWebhook_ExitCode2AndOneLine()
    {
        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "budgets", "set", "b", "--scope", "global", "--usd", "5", "--webhook", "http://169.254.169.254/latest/meta-data/");

        Assert.Equal(2, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Webhook 'http://169.254.169.254/latest/meta-data/' points at this machine or a private network", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CliShowAndList_WebhookWithCredentials_ShownWithout()
    {
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "budgets", "set", "b", "--scope", "global", "--usd", "5", "--webhook", "https://alerts:hook-s3cret@hooks.example.com/steward")).ExitCode);

        var show = await CliProcess.RunAsync(Env, "budgets", "show", "b", "--json");
        var table = await CliProcess.RunAsync(Env, "budgets", "show", "b");
        var list = await CliProcess.RunAsync(Env, "budgets", "list", "--json");

        Assert.Equal((0, 0, 0), (show.ExitCode, table.ExitCode, list.ExitCode));
        Assert.Contains("\"https://hooks.example.com/steward\"", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("https://hooks.example.com/steward", table.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("hook-s3cret", show.Stdout + table.Stdout + list.Stdout, StringComparison.Ordinal);
    }

    private static BudgetPolicy Policy(string webhook) => new()
    {
        Id = "hooked", Scope = BudgetScope.Global, Period = BudgetPeriod.Daily, MaxTokens = 1_000_000, Mode = BudgetMode.Soft, Webhook = webhook,
    };

    private sealed class RebindingResolver(string host, IPAddress address) : HostResolver
    {
        public override Task<IPAddress[]> ResolveAsync(string name, CancellationToken cancellationToken) =>
            string.Equals(name, host, StringComparison.OrdinalIgnoreCase) ? Task.FromResult(new[] { address }) : base.ResolveAsync(name, cancellationToken);
    }
}
