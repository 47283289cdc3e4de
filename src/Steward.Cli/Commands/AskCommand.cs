using System.CommandLine;
using System.Text.Json;
using Steward.Agents;
using Steward.Cli.Parsing;
using Steward.Cli.Rendering;
using Steward.Sessions;

namespace Steward.Cli.Commands;

/// <summary><c>steward ask --agent NAME "question"</c>: one question, answer streamed, stages shown live.</summary>
internal static class AskCommand
{
    // Without waiting for the score, the process does not linger to drain it either: the answer is recorded as unscored.
    private static readonly Dictionary<string, string?> NoDrain = new() { ["Steward:Evaluation:DrainTimeout"] = "00:00:00" };

    public static Command Create()
    {
        var question = new Argument<string>("question") { Description = "What to ask the agent." };
        var agent = RunOptions.Agent();
        var session = new Option<IdText?>("--session") { Description = "Continue this session instead of starting a new one (its id, or any unique start of it)." };
        var provider = RunOptions.Provider();
        var model = RunOptions.Model();
        var maxTokens = RunOptions.MaxTokens();
        var json = new Option<bool>("--json") { Description = "Print the result as JSON instead of streaming it." };
        var noWaitQuality = new Option<bool>("--no-wait-quality")
        {
            Description = "Do not wait for the answer to be scored (it is scored after delivery; unscored answers are recorded as skipped).",
        };

        var tags = RunOptions.Tags();
        var user = RunOptions.User();
        var command = new Command("ask", "Ask an agent one question and stream the answer.") { question, agent, session, provider, model, maxTokens, json, noWaitQuality, tags, user };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new RunRequest
            {
                Preset = parse.GetValue(agent)!,
                Query = parse.GetValue(question)!,
                Provider = parse.GetValue(provider),
                Model = parse.GetValue(model),
                MaxOutputTokens = parse.GetValue(maxTokens),
                Tags = RunMetadata.Tags(parse.GetValue(tags)),
                UserId = RunMetadata.UserId(parse.GetValue(user)),
            };
            var wait = !parse.GetValue(noWaitQuality);
            return await CliCommand.RunAsync(async services =>
            {
                var runner = services.Get<AgentRunner>();
                PresetWarnings.Write(services.Get<PresetCatalog>(), request.Preset);
                request = request with { SessionId = await services.ResolveOptionalAsync(IdKind.Session, parse.GetValue(session), cancellationToken).ConfigureAwait(false) };
                if (parse.GetValue(json))
                {
                    var result = await runner.RunAsync(request, null, cancellationToken).ConfigureAwait(false);
                    if (wait && result.EvaluationPending)
                    {
                        result = result with { Quality = await runner.WaitForQualityAsync(result.RunId, cancellationToken).ConfigureAwait(false), EvaluationPending = false };
                    }

                    await using var stdout = Console.OpenStandardOutput();
                    await JsonSerializer.SerializeAsync(stdout, result, Rendering.CliJson.Output, CancellationToken.None).ConfigureAwait(false);
                    Console.WriteLine();
                    return result.Error is null ? ExitCodes.Success : CliErrors.FromRun(result);
                }

                var renderer = new RunProgressRenderer(CliErrors.Stderr, Console.Out);
                // Tool calls that need approval are asked on the terminal; with --json (above) nobody is asked and they are denied.
                using var approver = new TerminalApprover(CliErrors.Stderr, Console.In);
                var response = await runner.RunAsync(request with { Approver = approver }, renderer.OnProgressAsync, cancellationToken).ConfigureAwait(false);
                renderer.WriteSummary(response);
                if (wait)
                {
                    await renderer.AwaitQualityAsync(runner, response, cancellationToken).ConfigureAwait(false);
                }

                return CliErrors.FromRun(response);
            }, cancellationToken, settings: wait ? null : NoDrain).ConfigureAwait(false);
        });
        return command;
    }
}
