using System.CommandLine;
using Spectre.Console;
using Steward.Agents;
using Steward.Providers;

namespace Steward.Cli.Commands;

/// <summary><c>steward presets list|show</c>.</summary>
internal static class PresetsCommand
{
    public static Command Create()
    {
        var list = new Command("list", "List the agent presets.");
        list.SetAction((_, cancellationToken) => CliCommand.RunAsync(services =>
        {
            var catalog = services.Get<PresetCatalog>();
            var providers = services.Get<ProviderCatalog>();
            var table = new Table().Border(TableBorder.Rounded);
            table.AddColumns("name", "display name", "provider", "model", "description");
            foreach (var p in catalog.LoadAll())
            {
                table.AddRow(Markup.Escape(p.Name), Markup.Escape(p.DisplayName), Markup.Escape(p.Provider ?? providers.DefaultProviderName + " (default)"),
                    Markup.Escape(p.Model ?? "(provider default)"), Markup.Escape(p.Description));
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"[grey]from {Markup.Escape(catalog.DirectoryPath)}[/]");
            return Task.FromResult(ExitCodes.Success);
        }, cancellationToken, needsDatabase: false));

        var name = new Argument<string>("name") { Description = "The preset's name." };
        var show = new Command("show", "Show one preset in full.") { name };
        show.SetAction((parse, cancellationToken) => CliCommand.RunAsync(services =>
        {
            var p = services.Get<PresetCatalog>().Get(parse.GetValue(name)!);
            var grid = new Grid().AddColumn().AddColumn();
            void Row(string label, string value) => grid.AddRow($"[bold]{label}[/]", Markup.Escape(value));
            Row("name", p.Name);
            Row("display name", p.DisplayName);
            Row("description", p.Description);
            Row("provider", p.Provider ?? "(default)");
            Row("model", p.Model ?? "(provider default)");
            Row("tools", services.Get<Steward.Tools.ToolCatalog>().Describe(p));
            Row("expected topics", string.Join(", ", p.ExpectedTopics));
            Row("evaluators", string.Join(", ", p.Evaluators));
            Row("max output tokens", p.MaxOutputTokens?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(provider default)");
            Row("max tokens per request", p.Budget.MaxTokensPerRequest?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(no limit)");
            Row("file", p.SourcePath);
            AnsiConsole.Write(grid);
            AnsiConsole.Write(new Panel(Markup.Escape(p.Instructions)).Header("instructions"));
            return Task.FromResult(ExitCodes.Success);
        }, cancellationToken, needsDatabase: false));

        return new Command("presets", "List and inspect agent presets.") { list, show };
    }
}
