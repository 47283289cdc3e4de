using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Cli.Parsing;
using Steward.Evaluation;
using Steward.Sessions;

namespace Steward.Cli.Commands;

/// <summary><c>steward feedback RUN_ID up|down [--comment TEXT]</c>: rate an answer, stored beside the evaluators' scores.</summary>
internal static class FeedbackCommand
{
    public static Command Create()
    {
        var id = new Argument<IdText>("run-id") { Description = "The run whose answer you rate (its id, or any unique start of it)." };
        var rating = new Argument<FeedbackRating>("rating") { Description = "up or down." };
        var comment = new Option<string?>("--comment", "-c") { Description = "What was good or wrong about it (at most 2,000 characters)." };
        var json = new Option<bool>("--json") { Description = "Print the stored feedback as JSON." };
        var command = new Command("feedback", "Rate an answer thumbs up or down, with an optional comment; a later rating replaces the earlier.")
        {
            id, rating, comment, json,
        };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var runId = await services.ResolveAsync(IdKind.Run, parse.GetValue(id), cancellationToken).ConfigureAwait(false);
            var given = await services.Get<FeedbackStore>().GiveAsync(runId, parse.GetValue(rating), parse.GetValue(comment), "cli", cancellationToken)
                .ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(given, Rendering.CliJson.Output));
            }
            else
            {
                CliErrors.Stderr.MarkupLine($"[green]Rated run {given.RunId} {(given.Rating == FeedbackRating.Up ? "up" : "down")}.[/]");
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }
}
