using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Steward.Costs;

namespace Steward.Cli.Commands;

/// <summary><c>steward costs prices [NAME…]</c>: the price catalog, or how given model names are priced.</summary>
internal static class CostsPricesCommand
{
    public static Command Create()
    {
        var names = new Argument<string[]>("names") { Description = "Model ids or deployment names to look up (default: list every price).", Arity = ArgumentArity.ZeroOrMore };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("prices", "List the prices in use (USD per 1M tokens), or show how model names are priced.") { names, json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(services =>
        {
            var catalog = services.Get<PricingCatalog>();
            var asked = parse.GetValue(names) ?? [];
            var rows = asked.Length == 0
                ? catalog.Models.OrderBy(m => m.Model, StringComparer.OrdinalIgnoreCase).Select(m => (Name: m.Model, Price: (ModelPrice?)m)).ToArray()
                : asked.Select(n => (Name: n, Price: catalog.Find(n))).ToArray();
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(
                    new { source = catalog.Source, prices = rows.Select(r => new { name = r.Name, priced = r.Price is not null, price = r.Price }) },
                    Rendering.CliJson.Report));
                return Task.FromResult(ExitCodes.Success);
            }

            // Listing the catalog, the name is the model; looking names up, show what each resolved to.
            var lookUp = asked.Length > 0;
            var withTiers = rows.Any(r => r.Price?.Tiers.Count > 0);
            var table = new Table().Border(TableBorder.Rounded).Title($"USD per 1M tokens, from {Markup.Escape(catalog.Source)}");
            table.AddColumns(lookUp ? ["name", "priced as"] : ["model"]);
            table.AddColumns("input", "cached", "output", "reasoning");
            if (withTiers)
            {
                table.AddColumn("tiers");
            }

            table.AddColumn("since");
            foreach (var (name, price) in rows)
            {
                var cells = new List<string> { Markup.Escape(name) };
                if (price is null)
                {
                    cells.Add("[yellow]unpriced[/]");
                    cells.AddRange(Enumerable.Repeat("", table.Columns.Count - 2));
                    table.AddRow([.. cells]);
                    continue;
                }

                if (lookUp)
                {
                    cells.Add(Markup.Escape(price.Model));
                }

                var r = price.Rates;
                cells.AddRange(price.SelfHosted ? ["self-hosted", "", "", ""] : [Rate(r.Input), Rate(r.EffectiveCachedInput), Rate(r.Output), Rate(r.EffectiveReasoning)]);
                if (withTiers)
                {
                    cells.Add(Markup.Escape(string.Join("; ", price.Tiers.Select(t =>
                        string.Create(CultureInfo.InvariantCulture, $"> {t.AboveInputTokens:N0}: {Rate(t.Rates.Input)} / {Rate(t.Rates.Output)}")))));
                }

                cells.Add(price.EffectiveDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) ?? Markup.Escape(price.Source));
                table.AddRow([.. cells]);
            }

            AnsiConsole.Write(table);
            return Task.FromResult(ExitCodes.Success);
        }, cancellationToken, needsDatabase: false));
        return command;
    }

    private static string Rate(decimal rate) => rate.ToString("0.00##", CultureInfo.InvariantCulture);
}
