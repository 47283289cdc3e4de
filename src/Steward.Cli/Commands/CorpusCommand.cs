using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Steward.Sessions;
using Steward.Tools.Corpus;

namespace Steward.Cli.Commands;

/// <summary><c>steward corpus add|list|search|rm</c>: the local document collection web search uses by default.</summary>
internal static class CorpusCommand
{
    public static Command Create() => new("corpus", "Manage the local document collection that web search uses by default (no account needed).")
    {
        Add(), List(), Search(), Remove(),
    };

    private static Command Add()
    {
        var paths = new Argument<string[]>("paths") { Description = "Files or folders (.md, .txt, .html, .pdf); folders are read recursively.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("add", "Add documents to the corpus (a document added again from the same path is replaced).") { paths };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var store = services.Get<CorpusStore>();
            var results = await store.AddAsync(parse.GetValue(paths)!, cancellationToken).ConfigureAwait(false);
            var console = CliErrors.Stderr;
            foreach (var r in results)
            {
                if (r.Problem is { } problem)
                {
                    console.MarkupLine($"[red]✗[/] {Markup.Escape(r.Source)}: {Markup.Escape(problem)}");
                }
                else
                {
                    console.MarkupLine($"[green]✓[/] {Markup.Escape(r.Title ?? r.Source)} [grey]{(r.Updated ? "updated" : "added")} · {Markup.Escape(r.Source)}[/]");
                }
            }

            var added = results.Count(r => r.Problem is null);
            console.MarkupLine(CultureInfo.InvariantCulture, $"[grey]{added} document(s) indexed in {Markup.Escape(store.Location)}[/]");
            if (added == 0)
            {
                CliErrors.WriteError(results.Count == 0 ? "No .md, .txt, .html or .pdf file was found there." : "No document could be added.");
                return results.Any(r => r.Problem == "no such file or folder") ? ExitCodes.NotFound : ExitCodes.InvalidArguments;
            }

            return ExitCodes.Success;
        }, cancellationToken, needsDatabase: false));
        return command;
    }

    private static Command List()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("list", "List the corpus's documents.") { json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var entries = await services.Get<CorpusStore>().ListAsync(cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(entries, Rendering.CliJson.Output));
                return ExitCodes.Success;
            }

            var table = new Table().Border(TableBorder.Rounded);
            table.AddColumns("id", "title", "kind", "characters", "address");
            foreach (var e in entries)
            {
                table.AddRow(e.Id.ToString(CultureInfo.InvariantCulture), Markup.Escape(e.Title), e.Kind, e.Characters.ToString("N0", CultureInfo.InvariantCulture), Markup.Escape(e.Url));
            }

            AnsiConsole.Write(table);
            if (entries.Count == 0)
            {
                AnsiConsole.MarkupLine("[grey]The corpus is empty. Add documents with 'steward corpus add PATH' (e.g. corpus/market).[/]");
            }

            return ExitCodes.Success;
        }, cancellationToken, needsDatabase: false));
        return command;
    }

    private static Command Search()
    {
        var query = new Argument<string>("query") { Description = "What to look for." };
        var limit = new Option<int>("--limit") { Description = "How many documents to show.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("search", "Search the corpus as an agent's web_search would.") { query, limit, json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            if (parse.GetValue(limit) is < 1 or > 50)
            {
                throw new ArgumentException("--limit must be between 1 and 50.");
            }

            var results = await services.Get<CorpusStore>().SearchAsync(parse.GetValue(query)!, parse.GetValue(limit), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(results, Rendering.CliJson.Output));
                return ExitCodes.Success;
            }

            for (var i = 0; i < results.Count; i++)
            {
                AnsiConsole.MarkupLine(CultureInfo.InvariantCulture, $"[bold][[{i + 1}]] {Markup.Escape(results[i].Title)}[/]\n    [blue]{Markup.Escape(results[i].Url)}[/]\n    {Markup.Escape(results[i].Snippet)}");
            }

            if (results.Count == 0)
            {
                AnsiConsole.MarkupLine("[grey]No document matches.[/]");
            }

            return ExitCodes.Success;
        }, cancellationToken, needsDatabase: false));
        return command;
    }

    private static Command Remove()
    {
        var targets = new Argument<string[]>("documents") { Description = "Document ids (from 'corpus list') or the paths they were added from; a folder removes what was added from under it.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("rm", "Remove documents from the corpus.") { targets };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var store = services.Get<CorpusStore>();
            var removed = 0;
            foreach (var target in parse.GetValue(targets)!)
            {
                var count = await store.RemoveAsync(target, cancellationToken).ConfigureAwait(false);
                if (count == 0)
                {
                    CliErrors.WriteError($"No document '{target}' in the corpus; see 'steward corpus list'.");
                    return ExitCodes.NotFound;
                }

                removed += count;
            }

            CliErrors.Stderr.MarkupLine(CultureInfo.InvariantCulture, $"[grey]{removed} document(s) removed.[/]");
            return ExitCodes.Success;
        }, cancellationToken, needsDatabase: false));
        return command;
    }
}
