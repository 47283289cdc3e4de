using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.AI;
using Spectre.Console;
using Steward.Cli.Parsing;
using Steward.LocalModels;
using Steward.LocalModels.Models;

namespace Steward.Cli.Commands;

/// <summary><c>steward models list|pull|rm|info|run</c>: the embedded engine's models, in Ollama's spirit.</summary>
internal static class ModelsCommand
{
    public static Command Create() => new("models", "Manage and run models for the embedded engine.")
    {
        List(), Pull(), Remove(), Info(), Run(),
    };

    private static Command List()
    {
        var command = new Command("list", "List downloaded models and the ones that can be pulled.");
        command.SetAction((_, cancellationToken) => CliCommand.RunAsync(services =>
        {
            var store = services.Get<ModelStore>();
            var stored = store.List();
            var table = new Table().Border(TableBorder.Rounded).Title($"models in {Markup.Escape(store.Root)}");
            table.AddColumns("name", "size", "modified", "path");
            foreach (var m in stored)
            {
                table.AddRow(Markup.Escape(m.Name), FormatSize(m.SizeBytes), m.LastModifiedUtc.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), Markup.Escape(m.Path));
            }

            AnsiConsole.Write(table);
            var pullable = KnownModels.All.Where(k => stored.All(s => s.Known?.Name != k.Name)).ToArray();
            if (pullable.Length > 0)
            {
                var known = new Table().Border(TableBorder.Rounded).Title("available to pull");
                known.AddColumns("name", "about", "description");
                foreach (var k in pullable)
                {
                    known.AddRow(Markup.Escape(k.Name), $"{k.ApproximateSizeMegabytes} MB", Markup.Escape(k.Description));
                }

                AnsiConsole.Write(known);
            }

            return Task.FromResult(ExitCodes.Success);
        }, cancellationToken, needsDatabase: false));
        return command;
    }

    private static Command Pull()
    {
        var name = new Argument<string>("name") { Description = "A known model name (see 'steward models list')." };
        var command = new Command("pull", "Download a known model into the model cache (resumes an interrupted download, checks SHA-256).") { name };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var requested = parse.GetValue(name)!;
            var model = KnownModels.Find(requested) ?? throw new ArgumentException(
                $"'{requested}' is not a known model. Known: {string.Join(", ", KnownModels.All.Select(k => k.Name))}. For any other model, set STEWARD_MODEL to its .gguf path.");
            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            http.DefaultRequestHeaders.UserAgent.ParseAdd("steward-cli");
            var downloader = new ModelDownloader(http, services.Get<ModelStore>());
            string path = "";
            await CliErrors.Stderr.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask(model.Name, maxValue: model.SizeBytes ?? model.ApproximateSizeMegabytes * 1024L * 1024L);
                    var progress = new Progress<DownloadProgress>(p =>
                    {
                        if (p.TotalBytes is { } total)
                        {
                            task.MaxValue = total;
                        }

                        task.Value = p.BytesReceived;
                    });
                    path = await downloader.DownloadAsync(model, progress, cancellationToken).ConfigureAwait(false);
                    task.Value = task.MaxValue;
                }).ConfigureAwait(false);
            CliErrors.Stderr.MarkupLine($"[green]Pulled {Markup.Escape(model.Name)}[/] to {Markup.Escape(path)}");
            return ExitCodes.Success;
        }, cancellationToken, needsDatabase: false));
        return command;
    }

    private static Command Remove()
    {
        var name = new Argument<string>("name") { Description = "The model's name." };
        var command = new Command("rm", "Delete a downloaded model.") { name };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(services =>
        {
            var requested = parse.GetValue(name)!;
            if (!services.Get<ModelStore>().Remove(requested))
            {
                throw new ModelNotFoundException($"No downloaded model named '{requested}'. See 'steward models list'.");
            }

            CliErrors.Stderr.MarkupLine($"[green]Removed {Markup.Escape(requested)}.[/]");
            return Task.FromResult(ExitCodes.Success);
        }, cancellationToken, needsDatabase: false));
        return command;
    }

    private static Command Info()
    {
        var model = new Argument<string>("model") { Description = "A model name or a .gguf path." };
        var command = new Command("info", "Show what a model file contains.") { model };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(services =>
        {
            var info = services.Get<ModelStore>().GetInfo(parse.GetValue(model)!);
            var grid = new Grid().AddColumn().AddColumn();
            void Row(string label, string? value) => grid.AddRow($"[bold]{label}[/]", Markup.Escape(value ?? "-"));
            Row("path", info.Path);
            Row("name", info.DisplayName);
            Row("size", FormatSize(info.SizeBytes));
            Row("architecture", info.Architecture);
            Row("parameters", info.ParameterCount.ToString("N0", CultureInfo.InvariantCulture));
            Row("layers", info.LayerCount?.ToString(CultureInfo.InvariantCulture));
            Row("embedding", info.EmbeddingLength?.ToString(CultureInfo.InvariantCulture));
            Row("context", info.ContextLength?.ToString(CultureInfo.InvariantCulture));
            Row("tensor types", string.Join(", ", info.TensorTypes.Select(t => $"{t.Key}: {t.Value}")));
            Row("tokenizer", $"{info.TokenizerModel} ({info.VocabularySize:N0} tokens{(info.PreTokenizer is null ? "" : ", pre " + info.PreTokenizer)})");
            Row("chat template", info.ChatTemplateFamily);
            AnsiConsole.Write(grid);
            return Task.FromResult(ExitCodes.Success);
        }, cancellationToken, needsDatabase: false));
        return command;
    }

    private static Command Run()
    {
        var model = new Argument<string>("model") { Description = "A model name or a .gguf path." };
        var prompt = new Argument<string>("prompt") { Description = "The prompt." };
        var raw = new Option<bool>("--raw") { Description = "Skip the chat template: plain completion with BOS prepended." };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature; 0 is greedy (default 0.8)." }.Within(0f, 2f);
        var maxTokens = RunOptions.MaxTokens();
        var seed = new Option<long?>("--seed") { Description = "Seed for reproducible sampling." };
        var command = new Command("run", "Generate directly with a local model, bypassing agents and sessions.") { model, prompt, raw, temperature, maxTokens, seed };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var path = services.Get<ModelStore>().Resolve(parse.GetValue(model)!);
            using var client = LocalChatClient.Load(path);
            var options = new ChatOptions
            {
                Temperature = parse.GetValue(temperature) ?? 0.8f,
                MaxOutputTokens = parse.GetValue(maxTokens) ?? 256,
                Seed = parse.GetValue(seed),
                AdditionalProperties = new AdditionalPropertiesDictionary { ["raw"] = parse.GetValue(raw) },
            };
            UsageDetails? usage = null;
            var started = TimeProvider.System.GetTimestamp();
            await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, parse.GetValue(prompt)!)], options, cancellationToken).ConfigureAwait(false))
            {
                Console.Write(update.Text);
                usage = update.Contents.OfType<UsageContent>().LastOrDefault()?.Details ?? usage;
            }

            Console.WriteLine();
            var seconds = TimeProvider.System.GetElapsedTime(started).TotalSeconds;
            CliErrors.Stderr.MarkupLine(CultureInfo.InvariantCulture,
                $"[grey]{usage?.InputTokenCount} prompt tokens, {usage?.OutputTokenCount} generated in {seconds:0.00} s ({(usage?.OutputTokenCount ?? 0) / Math.Max(seconds, 1e-9):0.0} tokens/s)[/]");
            return ExitCodes.Success;
        }, cancellationToken, needsDatabase: false));
        return command;
    }

    private static string FormatSize(long bytes) =>
        bytes >= 1 << 30 ? (bytes / (double)(1 << 30)).ToString("0.0 GiB", CultureInfo.InvariantCulture)
        : (bytes / (double)(1 << 20)).ToString("0.0 MiB", CultureInfo.InvariantCulture);
}
