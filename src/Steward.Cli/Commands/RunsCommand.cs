using System.CommandLine;
using Spectre.Console;
using Steward.Analytics;
using Steward.Sessions;

namespace Steward.Cli.Commands;

/// <summary><c>steward runs export</c>: every run of a period, with its model calls and score, as JSONL, CSV or Parquet.</summary>
internal static class RunsCommand
{
    public static Command Create() => new("runs", "Work with stored runs.") { Export() };

    private static Command Export()
    {
        var from = new Option<DateOnly?>("--from") { Description = "First day to include (yyyy-MM-dd, in Steward:Reports:TimeZone)." };
        var to = new Option<DateOnly?>("--to") { Description = "Last day to include (yyyy-MM-dd, in Steward:Reports:TimeZone)." };
        var agent = new Option<string?>("--agent") { Description = "Only runs of this agent preset." };
        var format = new Option<RunExportFormat>("--format") { Description = "jsonl (default), csv or parquet.", DefaultValueFactory = _ => RunExportFormat.Jsonl };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write to this file instead of standard output (required for parquet)." };
        var command = new Command("export", "Export every run of a period, with its model calls and score, streamed (never all in memory).")
        {
            from, to, agent, format, output,
        };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var (first, last) = (parse.GetValue(from), parse.GetValue(to));
            if (first is { } f && last is { } l && l < f)
            {
                throw new ArgumentException("--to must not be before --from.");
            }

            var kind = parse.GetValue(format);
            var file = parse.GetValue(output);
            if (kind == RunExportFormat.Parquet && file is null)
            {
                throw new ArgumentException("Parquet is written to a file: add --output runs.parquet.");
            }

            var zone = services.Get<AnalyticsQueries>().TimeZone;
            var filter = new RunExportFilter
            {
                From = first is { } start ? CostsCommand.StartOfDay(start, zone) : null,
                To = last is { } end ? CostsCommand.StartOfDay(end.AddDays(1), zone) : null,
                Agent = parse.GetValue(agent),
            };
            var exporter = services.Get<RunExporter>();
            if (file is not null)
            {
                // Write beside the target and rename, so a failed export never leaves a truncated file behind.
                var temp = file.FullName + ".partial";
                long count;
                try
                {
                    await using (var stream = File.Create(temp))
                    {
                        count = await exporter.ExportAsync(filter, kind, stream, cancellationToken).ConfigureAwait(false);
                    }

                    File.Move(temp, file.FullName, overwrite: true);
                }
                finally
                {
                    File.Delete(temp);
                }

                CliErrors.Stderr.MarkupLine($"[green]Exported {count:N0} runs to {Markup.Escape(file.FullName)}[/]");
            }
            else
            {
                await using var stdout = Console.OpenStandardOutput();
                await exporter.ExportAsync(filter, kind, stdout, cancellationToken).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }
}
