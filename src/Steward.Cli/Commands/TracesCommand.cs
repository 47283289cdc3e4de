using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Steward.Cli.Parsing;
using Steward.Sessions;
using Steward.Telemetry;

namespace Steward.Cli.Commands;

/// <summary><c>steward traces show|export</c>: the embedded trace store, with no external backend.</summary>
internal static class TracesCommand
{
    // Attributes worth a glance in the tree; everything else is in --json and the export.
    private static readonly string[] Highlights =
    [
        "gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "steward.cost.usd", "steward.budget.decision",
        "steward.run.status", "steward.run.error", "steward.storage.operation", "steward.quality.score", "error.type",
    ];

    public static Command Create() => new("traces", "Show a run's spans as a tree, or export stored spans as OTLP-JSON.")
    {
        Show(), Export(),
    };

    private static Command Show()
    {
        var id = new Argument<IdText>("run-id") { Description = "The run id (see 'sessions show'), or any part of its start that no other run shares." };
        var json = new Option<bool>("--json") { Description = "Print the spans as JSON, in tree order with depth and offset." };
        var command = new Command("show", "Show one run's spans as a tree with durations.") { id, json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var runId = await services.ResolveAsync(IdKind.Run, parse.GetValue(id), cancellationToken).ConfigureAwait(false);
            var trace = await services.Get<StoredTraces>().GetRunTraceAsync(runId, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(trace, Rendering.CliJson.Report));
                return ExitCodes.Success;
            }

            var tree = new Tree(new Markup(Markup.Escape($"run {trace.RunId} · trace {trace.TraceId} · {Ms(trace.Duration)}")));
            var nodes = new Stack<(int Depth, IHasTreeNodes Node)>();
            nodes.Push((-1, tree));
            foreach (var (span, depth, offset) in trace.Spans)
            {
                while (nodes.Peek().Depth >= depth)
                {
                    nodes.Pop();
                }

                nodes.Push((depth, nodes.Peek().Node.AddNode(new Markup(Describe(span, offset)))));
            }

            AnsiConsole.Write(tree);
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Export()
    {
        var run = new Option<IdText?>("--run") { Description = "Only this run's spans (default: every stored span); any unique start of its id." };
        var output = new Option<FileInfo?>("--out", "-o") { Description = "Write to this file (default: standard output)." };
        var command = new Command("export", "Export stored spans as OTLP-JSON (an ExportTraceServiceRequest), for any OpenTelemetry tool.") { run, output };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var store = services.Get<StoredTraces>();
            var runId = await services.ResolveOptionalAsync(IdKind.Run, parse.GetValue(run), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) is { } file)
            {
                var temporary = file.FullName + ".partial";
                int count;
                await using (var stream = File.Create(temporary))
                {
                    count = await store.ExportOtlpJsonAsync(stream, runId, cancellationToken).ConfigureAwait(false);
                }

                // Only a complete export takes the name, so a failure never leaves half a file behind.
                File.Move(temporary, file.FullName, overwrite: true);
                CliErrors.Stderr.MarkupLine(CultureInfo.InvariantCulture, $"[grey]{count} spans written to {Markup.Escape(file.FullName)}.[/]");
            }
            else
            {
                await using var stdout = Console.OpenStandardOutput();
                await store.ExportOtlpJsonAsync(stdout, runId, cancellationToken).ConfigureAwait(false);
                await stdout.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static string Describe(TraceSpan span, TimeSpan offset)
    {
        var status = span.Status == SpanStatus.Error ? " [red]error[/]" : "";
        var details = string.Join("  ", Highlights.Where(k => span[k] is not null).Select(k => $"{k}={Format(span[k])}"));
        return $"[bold]{Markup.Escape(span.Name)}[/] {Ms(span.Duration)} [grey]+{Ms(offset)}[/]{status}" +
            (details.Length > 0 ? " [grey]" + Markup.Escape(details) + "[/]" : "");
    }

    private static string Format(object? value) => SpanValueText.Format(value);

    private static string Ms(TimeSpan duration) => duration.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms";
}
