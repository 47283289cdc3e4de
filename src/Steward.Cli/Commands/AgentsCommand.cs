using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Steward.Providers.Foundry;
using Steward.Sessions;

namespace Steward.Cli.Commands;

/// <summary><c>steward agents list|cleanup</c>: the agents Steward keeps in Azure AI Foundry projects.</summary>
internal static class AgentsCommand
{
    private const string NoFoundry =
        "No foundry-agent provider is configured (set AZURE_AI_PROJECT_ENDPOINT, or Steward:Providers:NAME:Kind foundry-agent). " +
        "Agents of other providers live in the process that runs them: see the web app's Agents page.";

    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the agents as JSON." };
        var list = new Command("list", "List each Foundry agent version: created, last used, sessions served, whether a preset uses it.") { json };
        list.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var agents = services.Get<FoundryAgents>();
            if (!agents.AnyConfigured)
            {
                await Console.Error.WriteLineAsync(NoFoundry).ConfigureAwait(false);
                return ExitCodes.NotConfigured;
            }

            var found = await agents.ListAsync(cancellationToken).ConfigureAwait(false);
            Print(found, parse.GetValue(json));
            return ExitCodes.Success;
        }, cancellationToken));

        var dryRun = new Option<bool>("--dry-run") { Description = "Only say which versions would be deleted." };
        var cleanup = new Command("cleanup", "Delete the Foundry agent versions Steward created that no preset uses (never versions made elsewhere).") { dryRun, json };
        cleanup.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var agents = services.Get<FoundryAgents>();
            if (!agents.AnyConfigured)
            {
                await Console.Error.WriteLineAsync(NoFoundry).ConfigureAwait(false);
                return ExitCodes.NotConfigured;
            }

            var preview = parse.GetValue(dryRun);
            var removed = await agents.CleanupAsync(preview, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Print(removed, asJson: true);
                return ExitCodes.Success;
            }

            foreach (var v in removed)
            {
                AnsiConsole.MarkupLine($"{(preview ? "would delete" : "deleted")} {Markup.Escape(v.Name)} version {Markup.Escape(v.Version)} [grey]({Markup.Escape(v.Provider)})[/]");
            }

            AnsiConsole.MarkupLine(removed.Count == 0 ? "Nothing to clean up." : $"{removed.Count} version(s) {(preview ? "would be" : "were")} deleted.");
            return ExitCodes.Success;
        }, cancellationToken));

        return new Command("agents", "The agents Steward created in Azure AI Foundry projects.") { list, cleanup };
    }

    private static void Print(IReadOnlyList<FoundryAgentInfo> agents, bool asJson)
    {
        if (asJson)
        {
            using var stdout = Console.OpenStandardOutput();
            JsonSerializer.Serialize(stdout, agents, Rendering.CliJson.Output);
            return;
        }

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns("provider", "agent", "version", "created", "last used", "sessions", "by steward", "in use");
        foreach (var a in agents)
        {
            table.AddRow(Markup.Escape(a.Provider), Markup.Escape(a.Name), Markup.Escape(a.Version), a.Created.ToString("u", CultureInfo.InvariantCulture),
                a.LastUsed?.ToString("u", CultureInfo.InvariantCulture) ?? "-", a.SessionsServed.ToString(CultureInfo.InvariantCulture),
                a.CreatedBySteward ? "yes" : "no", a.InUse ? "yes" : "no");
        }

        AnsiConsole.Write(table);
    }
}
