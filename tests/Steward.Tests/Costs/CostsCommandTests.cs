using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Steward.Cli.Commands;
using Steward.Costs;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Costs;

/// <summary><c>steward costs</c> as a child process over a database seeded with known runs.</summary>
public sealed class CostsCommandTests : IAsyncLifetime
{
    private DirectoryInfo _folder = null!;
    private Dictionary<string, string> _env = null!;

    public async ValueTask InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("steward-costs-cli-");
        await using (var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", folder: _folder.FullName))
        {
            await CostReportsTests.SeedAsync(engine, TestContext.Current.CancellationToken);
        }

        _env = new Dictionary<string, string>
        {
            ["STEWARD_DB"] = Path.Combine(_folder.FullName, "steward.db"),
            ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
            ["Steward__Agents__Directory"] = Path.Combine(_folder.FullName, "agents"),
        };
    }

    public ValueTask DisposeAsync()
    {
        _folder.Delete(recursive: true);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task CostsJson_AllRuns_PrintsTotalsAndBreakdownsWithUnpricedCounted()
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(_env, "costs", "--json");

        Assert.True(exit == 0, stderr);
        var report = JsonNode.Parse(stdout)!;
        Assert.Equal(5, report["totals"]!["runs"]!.GetValue<long>());
        Assert.Equal(1, report["totals"]!["unpriced_runs"]!.GetValue<long>());
        Assert.Equal(0.031m, report["totals"]!["cost_usd"]!.GetValue<decimal>());
        Assert.Equal(300, report["totals"]!["tokens"]!["reasoning"]!.GetValue<long>());
        Assert.Equal("analyst", report["by_agent"]![0]!["agent"]!.GetValue<string>());
        Assert.Equal("mystery-model", report["by_model"]![2]!["model"]!.GetValue<string>());
        Assert.Equal(1, report["by_model"]![2]!["summary"]!["unpriced_runs"]!.GetValue<long>());
        Assert.Equal(["2026-11-20", "2026-11-21", "2026-11-23"], report["by_day"]!.AsArray().Select(d => d!["start"]!.GetValue<string>()));
        Assert.Equal(2, report["by_week"]!.AsArray().Count);
    }

    [Fact]
    public async Task CostsJson_UserOrTag_OnlyThoseRunsAndBlankValueRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using (var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", folder: _folder.FullName))
        {
            await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(ct);
            var runs = await db.Runs.Where(r => r.PresetName == "advisor").OrderBy(r => r.StartedAt).Select(r => r.Id).ToListAsync(ct);
            await db.Runs.Where(r => r.Id == runs[0] || r.Id == runs[1]).ExecuteUpdateAsync(s => s.SetProperty(r => r.UserId, "ana"), ct);
            db.RunTags.AddRange(new RunTagRecord { RunId = runs[1], Tag = "billing" }, new RunTagRecord { RunId = runs[2], Tag = "billing" });
            await db.SaveChangesAsync(ct);
        }

        async Task<long> RunsAsync(params string[] filter)
        {
            var (exit, stdout, stderr) = await CliProcess.RunAsync(_env, ["costs", "--json", .. filter]);
            Assert.True(exit == 0, stderr);
            return JsonNode.Parse(stdout)!["totals"]!["runs"]!.GetValue<long>();
        }

        Assert.Equal(2, await RunsAsync("--user", "ana"));
        Assert.Equal(2, await RunsAsync("--tag", "billing"));
        Assert.Equal(1, await RunsAsync("--user", "ana", "--tag", "billing"));
        Assert.Equal(0, await RunsAsync("--user", "nobody"));
        var (blank, _, error) = await CliProcess.RunAsync(_env, "costs", "--user", " ");
        Assert.NotEqual(0, blank);
        Assert.Contains("--user needs a value", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CostsJson_FromToDates_IncludesWholeDays()
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(_env, "costs", "--json", "--from", "2026-11-21", "--to", "2026-11-21");

        Assert.True(exit == 0, stderr);
        var totals = JsonNode.Parse(stdout)!["totals"]!;
        Assert.Equal(2, totals["runs"]!.GetValue<long>());
        Assert.Equal(0.001m, totals["cost_usd"]!.GetValue<decimal>());
    }

    [Fact]
    public async Task CostsCsv_AgentFilter_OneRowPerGroupWithHeader()
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(_env, "costs", "--csv", "--agent", "advisor");

        Assert.True(exit == 0, stderr);
        Assert.EndsWith("\r\n", stdout, StringComparison.Ordinal);
        var lines = stdout.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("group,key,provider,runs,priced_runs,unpriced_runs,cost_usd,uncached_input_tokens,cached_input_tokens,output_tokens,reasoning_tokens", lines[0]);
        Assert.Equal("total,,,3,1,1,0.001,800,0,150,0", lines[1]);
        Assert.Contains("agent,advisor,,3,1,1,0.001,800,0,150,0", lines);
        Assert.Contains("model,mystery-model,lab,1,0,1,0,300,0,50,0", lines);
        Assert.Contains(lines, l => l.StartsWith("day,2026-11-21,,2,1,1,", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("week,2026-11-16,,2,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Costs_Table_ShowsUnpricedRunsAsSuch()
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(_env, "costs");

        Assert.True(exit == 0, stderr);
        Assert.Contains("by agent", stdout, StringComparison.Ordinal);
        Assert.Contains("by week", stdout, StringComparison.Ordinal);
        Assert.Contains("mystery-model", stdout, StringComparison.Ordinal);
        Assert.Contains("1 run(s) used models with no price", stdout, StringComparison.Ordinal);
        Assert.Contains("unpriced", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--json", "--csv")]
    [InlineData("--from", "2026-11-22", "--to", "2026-11-21")]
    [InlineData("--tz", "Not/AZone")]
    public async Task Costs_BadArguments_ExitCode2(params string[] args)
    {
        var (exit, _, stderr) = await CliProcess.RunAsync(_env, ["costs", .. args]);

        Assert.Equal(2, exit);
        Assert.StartsWith("error:", stderr.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CostsPricesJson_Names_ShowsHowEachIsPriced()
    {
        var env = new Dictionary<string, string>(_env) { ["Steward__Pricing__Aliases__contoso-prod"] = "gpt-4.1" };

        var (exit, stdout, stderr) = await CliProcess.RunAsync(env, "costs", "prices", "--json", "gpt-4o-mini-2024-07-18", "contoso-prod", "llama3.2", "mystery");

        Assert.True(exit == 0, stderr);
        var prices = JsonNode.Parse(stdout)!["prices"]!.AsArray();
        Assert.Equal(["gpt-4o-mini", "gpt-4.1", "open-weights", null], prices.Select(p => p!["price"]?["model"]?.GetValue<string>()));
        Assert.Equal(0.15m, prices[0]!["price"]!["rates"]!["input"]!.GetValue<decimal>());
        Assert.True(prices[2]!["price"]!["self_hosted"]!.GetValue<bool>());
        Assert.False(prices[3]!["priced"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    [InlineData("", "")]
    public void Quote_Field_FollowsRfc4180(string field, string expected)
    {
        Assert.Equal(expected, CostsCommand.Quote(field));
    }

    [Fact]
    public void FormatCost_PricedAndUnpriced_NeverShowsUnpricedAsFree()
    {
        var tokens = new TokenBreakdown(0, 0, 0, 0);

        Assert.Equal("unpriced", CostsCommand.FormatCost(new CostSummary(2, 0, 2, 0m, tokens)));
        Assert.Equal("$1.50 + 1 unpriced", CostsCommand.FormatCost(new CostSummary(3, 2, 1, 1.5m, tokens)));
        Assert.Equal("$0.000123", CostsCommand.FormatCost(new CostSummary(1, 1, 0, 0.000123m, tokens)));
    }
}

public sealed class CostsJudgeRowsTests
{
    [Fact]
    public void ToCsv_ReportWithJudgeCalls_HasJudgeRowsApartFromTheRuns()
    {
        var tokens = new Steward.Costs.TokenBreakdown(10, 0, 5, 0);
        var runs = new Steward.Costs.CostSummary(2, 2, 0, 0.02m, tokens);
        var judges = new Steward.Costs.CostSummary(3, 3, 0, 0.001m, tokens);
        var day = new DateOnly(2026, 11, 20);
        var report = new Steward.Costs.CostReport(new Steward.Costs.CostFilter(), "UTC", runs, [], [], [new Steward.Costs.PeriodCost(day, runs)], [new Steward.Costs.PeriodCost(day, runs)])
        {
            Judges = judges,
            JudgesByDay = [new Steward.Costs.PeriodCost(day, judges)],
        };

        var lines = Steward.Cli.Commands.CostsCommand.ToCsv(report).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);

        Assert.StartsWith("total,,,2,2,0,0.02,", lines[1], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("judge_day,2026-11-20,,3,3,0,0.001,", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("judge_total,,,3,3,0,0.001,", StringComparison.Ordinal));
    }
}
