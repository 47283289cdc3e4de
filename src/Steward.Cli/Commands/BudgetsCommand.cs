using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Spectre.Console;
using Steward.Agents;
using Steward.Budgets;
using Steward.Cli.Parsing;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Cli.Commands;

/// <summary><c>steward budgets list|show|set|reset</c>.</summary>
internal static class BudgetsCommand
{
    public static Command Create() => new("budgets", "Inspect and manage budgets: limits in tokens and/or USD per scope and period.")
    {
        List(), Show(), Set(), Reset(),
    };

    // The engine's budget status, the same the web UI shows (webhooks already without credentials).
    private static Task<IReadOnlyList<BudgetStatus>> StatusAsync(CliServices services, CancellationToken cancellationToken) =>
        services.Get<BudgetStatusReader>().ReadAsync(cancellationToken);

    private static Command List()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("list", "List every budget with what is spent and reserved in the current period.") { json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var statuses = await StatusAsync(services, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(statuses, Rendering.CliJson.Output));
                return ExitCodes.Success;
            }

            // Six columns, the id and the share kept whole and everything else in words that wrap between words: nine
            // narrow columns broke ids and words mid-way at 80 columns ("counte d per reques t"), and a share at the end
            // of the spent cell wrapped between its number and its sign ("(0" over "%)").
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn(new TableColumn("id").NoWrap()).AddColumn("limit").AddColumn("spent").AddColumn(new TableColumn("used").NoWrap().RightAligned())
                .AddColumn("mode").AddColumn("source");
            foreach (var s in statuses)
            {
                var p = s.Policy;
                table.AddRow(Markup.Escape(p.Id), Markup.Escape(Describe(s)), Markup.Escape(Spent(s)), Used(s), p.Mode.ToString().ToLowerInvariant(), Markup.Escape(p.Source));
            }

            AnsiConsole.Write(table);
            if (statuses.Count == 0)
            {
                AnsiConsole.MarkupLine("[grey]No budgets. Add one with 'steward budgets set', in configuration (Steward:Budgets:Policies) or in a preset's budget section.[/]");
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Show()
    {
        var id = new Argument<string>("id") { Description = "The budget's id." };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("show", "Show one budget in full.") { id, json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var wanted = parse.GetValue(id)!;
            var s = (await StatusAsync(services, cancellationToken).ConfigureAwait(false)).FirstOrDefault(x => x.Policy.Id == wanted)
                ?? throw new ArgumentException($"No budget named '{wanted}'. See 'steward budgets list'.");
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(s, Rendering.CliJson.Output));
                return ExitCodes.Success;
            }

            var p = s.Policy;
            var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
            void Row(string label, string value) => grid.AddRow(new Markup($"[grey]{label}[/]"), new Text(value));
            Row("budget", p.Id);
            Row("applies to", p.Scope.ToString().ToLowerInvariant() + (p.Agent is null ? "" : $" of agent {p.Agent}"));
            Row("limit", $"{Limit(p)} {Per(p)}");
            Row("period", p.Period == BudgetPeriod.None ? "none" : $"{p.Period.ToString().ToLowerInvariant()} ({s.Period})");
            Row("spent", !BudgetAdministration.HasSingleCounter(p) ? s.NotAccumulated : Amount(p, s.SpentTokens, s.SpentUsd));
            Row("reserved", Amount(p, s.ReservedTokens, s.ReservedUsd));
            Row("used", Used(s));
            Row("mode", p.Mode.ToString().ToLowerInvariant() + (p.Mode == BudgetMode.Hard ? " (refuses past the limit)" : " (alerts only)"));
            Row("alerts at", string.Join(", ", p.Thresholds.Select(t => t.ToString(CultureInfo.InvariantCulture) + " %")));
            if (p.Webhook is { } hook)
            {
                Row("webhook", hook);
            }

            Row("source", p.Source);
            AnsiConsole.Write(grid);
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Set()
    {
        var id = new Argument<string>("id") { Description = "A name for the budget, e.g. analyst-daily." };
        var scope = new Option<BudgetScope>("--scope") { Description = "request, session, agent or global.", Required = true };
        var agent = new Option<string?>("--agent", "-a") { Description = "Only runs of this preset." };
        var period = new Option<BudgetPeriod>("--period") { Description = "none, hourly, daily, weekly or monthly.", DefaultValueFactory = _ => BudgetPeriod.None };
        var tokens = new Option<long?>("--tokens") { Description = "Limit in tokens (input + output)." }.Within(1, BudgetPolicy.MaxTokensLimit);
        var usd = new Option<decimal?>("--usd") { Description = "Limit in USD." }.Within(0m, BudgetPolicy.MaxUsdLimit);
        var mode = new Option<BudgetMode>("--mode") { Description = "hard (refuse) or soft (allow and alert).", DefaultValueFactory = _ => BudgetMode.Hard };
        var thresholds = new Option<string>("--thresholds") { Description = "Alert thresholds in percent, comma-separated.", DefaultValueFactory = _ => "50,80,100" };
        var webhook = new Option<string?>("--webhook") { Description = "URL to POST alerts to." };
        var command = new Command("set", "Add or change a budget.") { id, scope, agent, period, tokens, usd, mode, thresholds, webhook };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var levels = BudgetAdministration.ParseThresholds(parse.GetValue(thresholds)!);
            if (parse.GetValue(agent) is { } preset)
            {
                services.Get<PresetCatalog>().Get(preset);
            }

            var policy = new BudgetPolicy
            {
                Id = parse.GetValue(id)!, Scope = parse.GetValue(scope), Agent = parse.GetValue(agent), Period = parse.GetValue(period),
                MaxTokens = parse.GetValue(tokens), MaxUsd = parse.GetValue(usd), Mode = parse.GetValue(mode), Thresholds = levels,
                Webhook = parse.GetValue(webhook), Source = "cli",
            };
            await services.Get<BudgetAdministration>().SetAsync(policy, cancellationToken).ConfigureAwait(false);
            CliErrors.Stderr.MarkupLine($"[green]Budget {Markup.Escape(policy.Id)} set: {Markup.Escape(Limit(policy))} {Per(policy)} ({policy.Mode.ToString().ToLowerInvariant()}).[/]");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Reset()
    {
        var id = new Argument<string>("id") { Description = "The budget's id." };
        var remove = new Option<bool>("--remove") { Description = "Delete the budget (only those set with 'budgets set')." };
        var command = new Command("reset", "Start the budget's current period again from zero spent (requests in flight keep their holds).") { id, remove };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var wanted = parse.GetValue(id)!;
            if (parse.GetValue(remove))
            {
                if (!await services.Get<BudgetAdministration>().RemoveAsync(wanted, cancellationToken).ConfigureAwait(false))
                {
                    throw new ArgumentException($"No budget named '{wanted}' was set with 'steward budgets set'.");
                }

                CliErrors.Stderr.MarkupLine($"[green]Removed budget {Markup.Escape(wanted)}.[/]");
                return ExitCodes.Success;
            }

            var s = await services.Get<BudgetAdministration>().ResetAsync(wanted, cancellationToken).ConfigureAwait(false);
            CliErrors.Stderr.MarkupLine($"[green]Budget {Markup.Escape(wanted)} reset for {Markup.Escape(s.Period)}.[/]");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static string Limit(BudgetPolicy p) => Amount(p, p.MaxTokens ?? 0, p.MaxUsd ?? 0);

    /// <summary>What the limit is counted over, in words: "per day", "per request", "in total".</summary>
    private static string Per(BudgetPolicy p) => p.Period switch
    {
        BudgetPeriod.Hourly => "per hour",
        BudgetPeriod.Daily => "per day",
        BudgetPeriod.Weekly => "per week",
        BudgetPeriod.Monthly => "per month",
        _ => p.Scope switch
        {
            BudgetScope.Request => "per request",
            BudgetScope.Session => "per session",
            _ => "in total",
        },
    };

    /// <summary>The limit and what it applies to, in words: "1,500 tokens for each session", "$250 per month for all agents".</summary>
    private static string Describe(BudgetStatus s) =>
        Limit(s.Policy) + (s.Policy.Period == BudgetPeriod.None ? "" : " " + Per(s.Policy)) + (s.Applies.Length > 0 ? " for " + s.Applies : "");

    /// <summary>
    /// What the current period has spent and holds, in the limit's own units (a dollar budget's spent in dollars), or how
    /// it is counted when it has no one counter: "0 tokens" would read as nothing spent.
    /// </summary>
    private static string Spent(BudgetStatus s)
    {
        var p = s.Policy;
        if (!BudgetAdministration.HasSingleCounter(p))
        {
            return s.NotAccumulated;
        }

        return Amount(p, s.SpentTokens, s.SpentUsd) + (s.ReservedTokens > 0 || s.ReservedUsd > 0 ? $" + {Amount(p, s.ReservedTokens, s.ReservedUsd)} reserved" : "")
            + (p.Period == BudgetPeriod.None ? "" : $" in {s.Period}");
    }

    /// <summary>How much of the limit the period has spent: "12.5 %", or "-" for a budget with no one counter.</summary>
    private static string Used(BudgetStatus s) => s.UtilisationPercent is { } pct ? pct.ToString("0.#", CultureInfo.InvariantCulture) + " %" : "-";

    /// <summary>An amount in the units <paramref name="p"/> limits: a dollar budget's in dollars, not "0 tokens".</summary>
    private static string Amount(BudgetPolicy p, long tokens, decimal usd) => string.Join(" and ", new[]
    {
        p.MaxTokens is not null || p.MaxUsd is null ? tokens.ToString("N0", CultureInfo.InvariantCulture) + " tokens" : null,
        p.MaxUsd is not null ? "$" + usd.ToString("0.######", CultureInfo.InvariantCulture) : null,
    }.OfType<string>());
}
