using System.CommandLine;
using Spectre.Console;
using Steward.Agents;
using Steward.Cli.Parsing;
using Steward.Cli.Rendering;
using Steward.Sessions;

namespace Steward.Cli.Commands;

/// <summary><c>steward chat --agent NAME [--session ID]</c>: an interactive conversation in one session.</summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var agent = RunOptions.Agent();
        var session = new Option<IdText?>("--session") { Description = "Resume this session (its id, or any unique start of it)." };
        var provider = RunOptions.Provider();
        var model = RunOptions.Model();
        var maxTokens = RunOptions.MaxTokens();
        var command = new Command("chat", "Talk with an agent; every turn continues the same session. Type /exit or press Ctrl+D to leave.")
        {
            agent, session, provider, model, maxTokens,
        };

        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var console = CliErrors.Stderr;
            var sessionId = await services.ResolveOptionalAsync(IdKind.Session, parse.GetValue(session), cancellationToken).ConfigureAwait(false);
            var preset = services.Get<PresetCatalog>().Get(parse.GetValue(agent)!);
            PresetWarnings.Write(services.Get<PresetCatalog>(), preset.Name);
            if (sessionId is { } id)
            {
                var detail = await services.Get<StoredSessions>().GetAsync(id, cancellationToken).ConfigureAwait(false);
                foreach (var message in detail.Messages)
                {
                    console.MarkupLine($"[bold]{Markup.Escape(message.Role)}>[/] {Markup.Escape(message.Content)}");
                }
            }

            console.MarkupLine($"[grey]Chatting with {Markup.Escape(preset.DisplayName)}. /exit to leave.[/]");
            var runner = services.Get<AgentRunner>();
            using var approver = new TerminalApprover(console, Console.In);
            var exit = ExitCodes.Success;
            while (!cancellationToken.IsCancellationRequested)
            {
                console.Markup("[bold blue]you>[/] ");
                var line = await Console.In.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                if (line is null || line.Trim() is "/exit" or "/quit")
                {
                    break;
                }

                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                var renderer = new RunProgressRenderer(console, Console.Out);
                var response = await runner.RunAsync(new RunRequest
                {
                    Preset = preset.Name,
                    Query = line,
                    SessionId = sessionId,
                    Provider = parse.GetValue(provider),
                    Model = parse.GetValue(model),
                    MaxOutputTokens = parse.GetValue(maxTokens),
                    Approver = approver,
                }, renderer.OnProgressAsync, cancellationToken).ConfigureAwait(false);
                renderer.WriteSummary(response);
                await renderer.AwaitQualityAsync(runner, response, cancellationToken).ConfigureAwait(false);
                sessionId ??= response.SessionId;
                exit = CliErrors.FromRun(response);
                if (response.Status == RunStatus.Cancelled)
                {
                    break;
                }
            }

            return exit;
        }, cancellationToken));
        return command;
    }
}
