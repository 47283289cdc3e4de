using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using Steward.Cli.Parsing;
using Steward.Costs;
using Steward.Sessions;

namespace Steward.Cli.Commands;

/// <summary><c>steward costs</c>: what the agents cost, by agent, model and day, computed in the database.</summary>
internal static class CostsCommand
{
    public static Command Create()
    {
        var from = new Option<DateOnly?>("--from") { Description = "First day to include (yyyy-MM-dd)." };
        var to = new Option<DateOnly?>("--to") { Description = "Last day to include (yyyy-MM-dd)." };
        var agent = new Option<string?>("--agent", "-a") { Description = "Only runs of this agent preset." };
        var model = new Option<string?>("--model", "-m") { Description = "Only runs of this model." };
        var provider = new Option<string?>("--provider") { Description = "Only runs on this provider." };
        var session = new Option<IdText?>("--session") { Description = "Only runs of this session (its id, or any unique start of it)." };
        var user = new Option<string?>("--user") { Description = "Only runs made for this user id (exact)." };
        var tag = new Option<string?>("--tag") { Description = "Only runs carrying this tag (exact)." };
        var timeZone = new Option<string?>("--time-zone", "--tz") { Description = "Time zone days begin in (an IANA or Windows id, 'local' or 'utc'). Default: Steward:Reports:TimeZone (UTC unless set)." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var csv = new Option<bool>("--csv") { Description = "Print the report as CSV (RFC 4180)." };
        var command = new Command("costs", "Show what the agents cost: totals by agent, model, day and week. Unpriced runs are counted, never shown as free.")
        {
            from, to, agent, model, provider, session, user, tag, timeZone, json, csv,
            CostsPricesCommand.Create(),
        };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            if (parse.GetValue(json) && parse.GetValue(csv))
            {
                throw new ArgumentException("Choose one of --json and --csv.");
            }

            var analytics = services.Get<Steward.Analytics.AnalyticsQueries>();
            var zone = parse.GetValue(timeZone) is { Length: > 0 } id ? FindTimeZone(id) : analytics.TimeZone;
            var (first, last) = (parse.GetValue(from), parse.GetValue(to));
            if (first is { } f && last is { } l && l < f)
            {
                throw new ArgumentException("--to must not be before --from.");
            }

            var filter = new CostFilter
            {
                From = first is { } start ? StartOfDay(start, zone) : null,
                To = last is { } end ? StartOfDay(end.AddDays(1), zone) : null,
                Agent = parse.GetValue(agent),
                Model = parse.GetValue(model),
                Provider = parse.GetValue(provider),
                SessionId = await services.ResolveOptionalAsync(IdKind.Session, parse.GetValue(session), cancellationToken).ConfigureAwait(false),
                UserId = Metadata(parse.GetValue(user), "--user"),
                Tag = Metadata(parse.GetValue(tag), "--tag"),
            };
            var report = await analytics.GetCostsAsync(filter, zone, cancellationToken).ConfigureAwait(false);
            report = report with { ByStatus = (await analytics.GetByStatusAsync(filter, cancellationToken).ConfigureAwait(false)).ByStatus };
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(report, Rendering.CliJson.Report));
            }
            else if (parse.GetValue(csv))
            {
                Console.Write(ToCsv(report));
            }
            else
            {
                Render(report);
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    /// <summary>A user id or tag to filter by, trimmed; <see langword="null"/> when not given.</summary>
    private static string? Metadata(string? value, string option) => value is null
        ? null
        : string.IsNullOrWhiteSpace(value) ? throw new ArgumentException($"{option} needs a value; leave the option out to include every run.") : value.Trim();

    private static TimeZoneInfo FindTimeZone(string? id)
    {
        if (string.IsNullOrWhiteSpace(id) || string.Equals(id, "utc", StringComparison.OrdinalIgnoreCase))
        {
            return TimeZoneInfo.Utc;
        }

        if (string.Equals(id, "local", StringComparison.OrdinalIgnoreCase))
        {
            return TimeZoneInfo.Local;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (TimeZoneNotFoundException)
        {
            throw new ArgumentException($"Unknown time zone '{id}'. Use an IANA id such as Europe/Paris, 'local' or 'utc'.");
        }
    }

    internal static DateTimeOffset StartOfDay(DateOnly day, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);

        // A day that begins inside a daylight-saving gap begins when the clocks resume.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(15);
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }

    private static void Render(CostReport report)
    {
        var totals = report.Totals;
        if (totals.Runs == 0)
        {
            AnsiConsole.MarkupLine("[grey]No runs match.[/]");
            return;
        }

        AnsiConsole.MarkupLine(CultureInfo.InvariantCulture,
            $"[bold]Total {Markup.Escape(FormatCost(totals))}[/] over {totals.Runs} runs, {totals.Tokens.Total:N0} tokens [grey](days in {Markup.Escape(report.TimeZone)})[/]");
        if (totals.UnpricedRuns > 0)
        {
            AnsiConsole.MarkupLine(CultureInfo.InvariantCulture,
                $"[yellow]{totals.UnpricedRuns} run(s) used models with no price; their cost is not included. Add prices under Steward:Pricing:Models.[/]");
        }

        var agents = SummaryTable("by agent", "runs", "agent");
        foreach (var a in report.ByAgent)
        {
            AddRow(agents, a.Summary, a.Agent);
        }

        var models = SummaryTable("by model", "runs", "provider", "model");
        foreach (var m in report.ByModel)
        {
            AddRow(models, m.Summary, m.Provider, m.Model);
        }

        var days = SummaryTable("by day", "runs", "day");
        foreach (var d in report.ByDay)
        {
            AddRow(days, d.Summary, d.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(agents);
        AnsiConsole.Write(models);
        AnsiConsole.Write(days);
        if (report.ByStatus is { Count: > 0 } statuses)
        {
            // A stopped, failed or refused run that generated output used the model: it is in the totals, and shown here.
            var byStatus = new Table().Border(TableBorder.Rounded).Title("by status");
            byStatus.AddColumn("status");
            byStatus.AddColumn(new TableColumn("runs").RightAligned());
            byStatus.AddColumn(new TableColumn("unpriced").RightAligned());
            byStatus.AddColumn(new TableColumn("output tokens").RightAligned());
            byStatus.AddColumn(new TableColumn("tokens").RightAligned());
            byStatus.AddColumn(new TableColumn("cost").RightAligned());
            foreach (var s in statuses)
            {
                byStatus.AddRow(s.Status.ToString(), N(s.Runs), s.UnpricedRuns > 0 ? $"[yellow]{N(s.UnpricedRuns)}[/]" : "0", N(s.OutputTokens), N(s.Tokens),
                    Markup.Escape(s.Runs == s.UnpricedRuns && s.UnpricedRuns > 0 ? "unpriced" : s.UnpricedRuns > 0 ? $"${Usd(s.CostUsd)} + {s.UnpricedRuns} unpriced" : "$" + Usd(s.CostUsd)));
            }

            AnsiConsole.Write(byStatus);
        }

        if (report.ByWeek.Count > 1)
        {
            var weeks = SummaryTable("by week", "runs", "week of");
            foreach (var w in report.ByWeek)
            {
                AddRow(weeks, w.Summary, w.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            }

            AnsiConsole.Write(weeks);
        }

        if (report.Judges.Runs > 0)
        {
            // Scoring answers with an LLM judge is spend too, shown apart from the answers it scored.
            var judges = SummaryTable("LLM-as-judge (scoring the answers above)", "calls", "day");
            foreach (var d in report.JudgesByDay)
            {
                AddRow(judges, d.Summary, d.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            }

            AddRow(judges, report.Judges, "total");
            AnsiConsole.Write(judges);
            AnsiConsole.MarkupLine(CultureInfo.InvariantCulture,
                $"[bold]With judges {Markup.Escape(FormatCost(totals.Add(report.Judges)))}[/] [grey](one judge call per judged quality of an answer)[/]");
        }

        var tokens = new Table().Border(TableBorder.Rounded).Title("tokens");
        tokens.AddColumns("input (not cached)", "cached input", "output (not reasoning)", "reasoning", "total");
        tokens.AddRow(N(totals.Tokens.UncachedInput), N(totals.Tokens.CachedInput), N(totals.Tokens.NonReasoningOutput), N(totals.Tokens.Reasoning), N(totals.Tokens.Total));
        AnsiConsole.Write(tokens);
    }

    /// <summary>A table of summaries by <paramref name="keys"/>, counting runs, or calls where a row is a model call (a judge's).</summary>
    private static Table SummaryTable(string title, string counted, params string[] keys)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(title);
        table.AddColumns(keys);
        table.AddColumn(new TableColumn(counted).RightAligned());
        table.AddColumn(new TableColumn("unpriced").RightAligned());
        table.AddColumn(new TableColumn("tokens").RightAligned());
        table.AddColumn(new TableColumn("cost").RightAligned());
        return table;
    }

    private static void AddRow(Table table, CostSummary summary, params string[] keys) =>
        table.AddRow([
            .. keys.Select(Markup.Escape),
            N(summary.Runs),
            summary.UnpricedRuns > 0 ? $"[yellow]{N(summary.UnpricedRuns)}[/]" : "0",
            N(summary.Tokens.Total),
            Markup.Escape(FormatCost(summary)),
        ]);

    /// <summary>The priced cost, and how many runs are not in it.</summary>
    internal static string FormatCost(CostSummary summary) => (summary.PricedRuns, summary.UnpricedRuns) switch
    {
        (0, > 0) => "unpriced",
        (_, > 0) => $"${Usd(summary.CostUsd)} + {summary.UnpricedRuns} unpriced",
        _ => "$" + Usd(summary.CostUsd),
    };

    private static string Usd(decimal usd) => usd.ToString(usd is > 0m and < 0.01m ? "0.######" : "0.00##", CultureInfo.InvariantCulture);

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>
    /// One table for every grouping: <c>group</c> is total, agent, model, day or week. Cost is the exact priced
    /// cost; <c>unpriced_runs</c> says how many runs it leaves out.
    /// </summary>
    internal static string ToCsv(CostReport report)
    {
        var csv = new StringBuilder();
        WriteRow(csv, "group", "key", "provider", "runs", "priced_runs", "unpriced_runs", "cost_usd",
            "uncached_input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens");
        Row(csv, "total", "", "", report.Totals);
        foreach (var a in report.ByAgent)
        {
            Row(csv, "agent", a.Agent, "", a.Summary);
        }

        foreach (var m in report.ByModel)
        {
            Row(csv, "model", m.Model, m.Provider, m.Summary);
        }

        foreach (var d in report.ByDay)
        {
            Row(csv, "day", d.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), "", d.Summary);
        }

        foreach (var w in report.ByWeek)
        {
            Row(csv, "week", w.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), "", w.Summary);
        }

        foreach (var d in report.JudgesByDay)
        {
            Row(csv, "judge_day", d.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), "", d.Summary);
        }

        if (report.Judges.Runs > 0)
        {
            Row(csv, "judge_total", "", "", report.Judges);
        }

        return csv.ToString();

        static void Row(StringBuilder csv, string group, string key, string provider, CostSummary s) =>
            WriteRow(csv, group, key, provider, I(s.Runs), I(s.PricedRuns), I(s.UnpricedRuns), s.CostUsd.ToString(CultureInfo.InvariantCulture),
                I(s.Tokens.UncachedInput), I(s.Tokens.CachedInput), I(s.Tokens.NonReasoningOutput), I(s.Tokens.Reasoning));

        static string I(long value) => value.ToString(CultureInfo.InvariantCulture);
    }

    private static void WriteRow(StringBuilder csv, params string[] fields)
    {
        csv.AppendJoin(',', fields.Select(Quote));
        csv.Append("\r\n");
    }

    /// <summary>RFC 4180: a field with a comma, quote or line break is quoted, and its quotes doubled.</summary>
    internal static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
}
