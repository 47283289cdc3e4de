using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Steward.Cli.Parsing;
using Steward.Cli.Rendering;
using Steward.Sessions;

namespace Steward.Cli.Commands;

/// <summary><c>steward sessions list|show|export|import|delete</c>.</summary>
internal static class SessionsCommand
{
    public static Command Create() => new("sessions", "Browse, export, import and delete sessions.")
    {
        List(), Show(), Export(), Import(), Delete(),
    };

    private static Command List()
    {
        var agent = new Option<string?>("--agent", "-a") { Description = "Only sessions of this preset." };
        var limit = new Option<int>("--limit") { Description = "How many to show (newest first).", DefaultValueFactory = _ => 20 }.Within(1, 100_000);
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("list", "List sessions, newest first.") { agent, limit, json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var take = parse.GetValue(limit);
            var sessions = await services.Get<StoredSessions>().ListAsync(parse.GetValue(agent), 0, take, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(sessions, Rendering.CliJson.Output));
                return ExitCodes.Success;
            }

            var table = new Table().Border(TableBorder.Rounded);
            table.AddColumns("id", "updated", "agent", "runs", "tokens", "cost", "title");
            foreach (var s in sessions)
            {
                table.AddRow(s.Id.ToString(), s.UpdatedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), Markup.Escape(s.Preset),
                    s.RunCount.ToString(CultureInfo.InvariantCulture), s.TotalTokens.ToString("N0", CultureInfo.InvariantCulture),
                    s.CostUsd is { } c ? "$" + c.ToString("0.######", CultureInfo.InvariantCulture) : "-", Markup.Escape(s.Title));
            }

            AnsiConsole.Write(table);
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Show()
    {
        var id = new Argument<IdText>("id") { Description = "The session id, or any part of its start that no other session shares." };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("show", "Show a session's messages and runs.") { id, json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var sessionId = await services.ResolveAsync(IdKind.Session, parse.GetValue(id), cancellationToken).ConfigureAwait(false);
            var detail = await services.Get<StoredSessions>().GetAsync(sessionId, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(detail, Rendering.CliJson.Output));
                return ExitCodes.Success;
            }

            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(detail.Summary.Title)}[/] [grey]({Markup.Escape(detail.Summary.Preset)}, {detail.Summary.Id})[/]");
            foreach (var m in detail.Messages)
            {
                AnsiConsole.MarkupLine($"[bold]{Markup.Escape(m.Role)}>[/] {Markup.Escape(m.Content)}");
            }

            var runs = new Table().Border(TableBorder.Rounded).Title("runs");
            runs.AddColumns("run", "status", "model", "in", "out", "cost", "duration", "error");
            foreach (var r in detail.Runs)
            {
                var cost = r.CostUsd is { } c ? RunProgressRenderer.FormatCost(new Agents.RunCost(c)) : "-";
                runs.AddRow(r.Id.ToString(), r.Status.ToString(), Markup.Escape($"{r.Provider}/{r.Model}"),
                    r.Usage.InputTokens.ToString(CultureInfo.InvariantCulture), r.Usage.OutputTokens.ToString(CultureInfo.InvariantCulture), Markup.Escape(cost),
                    r.DurationMs is { } d ? (d / 1000).ToString("0.00 s", CultureInfo.InvariantCulture) : "-", Markup.Escape(r.Error ?? ""));
            }

            AnsiConsole.Write(runs);
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Export()
    {
        var id = new Argument<IdText>("id") { Description = "The session id, or any part of its start that no other session shares." };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write to this file instead of standard output." };
        var command = new Command("export", "Export a session as one versioned JSON document.") { id, output };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var exporter = services.Get<StoredSessions>();
            var sessionId = await services.ResolveAsync(IdKind.Session, parse.GetValue(id), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) is { } file)
            {
                // Write beside the target and rename, so a failed export never leaves a truncated file behind.
                var temp = file.FullName + ".partial";
                await using (var stream = File.Create(temp))
                {
                    await exporter.ExportAsync(sessionId, stream, cancellationToken).ConfigureAwait(false);
                }

                File.Move(temp, file.FullName, overwrite: true);
                CliErrors.Stderr.MarkupLine($"[green]Exported to {Markup.Escape(file.FullName)}[/]");
            }
            else
            {
                await using var stdout = Console.OpenStandardOutput();
                await exporter.ExportAsync(sessionId, stdout, cancellationToken).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Import()
    {
        var file = new Argument<FileInfo>("file") { Description = "A session export (JSON)." };
        var asCopy = new Option<bool>("--as-copy") { Description = "Give the session and its runs new ids, e.g. to import an export of a session that is stored already." };
        var command = new Command("import", "Import a session export; prints the stored session's id.") { file, asCopy };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var path = parse.GetValue(file)!;
            if (!path.Exists)
            {
                throw new FileNotFoundException("The export file does not exist.", path.FullName);
            }

            await using var stream = path.OpenRead();
            var copy = parse.GetValue(asCopy);
            var id = await services.Get<StoredSessions>().ImportAsync(stream, copy, cancellationToken).ConfigureAwait(false);
            if (copy)
            {
                CliErrors.Stderr.MarkupLine($"[green]Imported as a copy: session {id}; the session and its runs have new ids.[/]");
            }

            Console.WriteLine(id);
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Delete()
    {
        var id = new Argument<IdText>("id") { Description = "The session id, or any part of its start that no other session shares." };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation." };
        var command = new Command("delete", "Delete a session and everything in it.") { id, yes };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var sessionId = await services.ResolveAsync(IdKind.Session, parse.GetValue(id), cancellationToken).ConfigureAwait(false);
            if (!parse.GetValue(yes))
            {
                if (Console.IsInputRedirected)
                {
                    throw new ArgumentException("Deleting needs confirmation; add --yes when not running interactively.");
                }

                if (!await AnsiConsole.ConfirmAsync($"Delete session {sessionId} and all its runs?", defaultValue: false, cancellationToken).ConfigureAwait(false))
                {
                    return ExitCodes.Cancelled;
                }
            }

            await services.Get<StoredSessions>().DeleteAsync(sessionId, cancellationToken).ConfigureAwait(false);
            CliErrors.Stderr.MarkupLine($"[green]Deleted session {sessionId}.[/]");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }
}
