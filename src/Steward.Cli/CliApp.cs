using System.CommandLine;
using Steward.Cli.Commands;
using Steward.Cli.Parsing;

namespace Steward.Cli;

/// <summary>The <c>steward</c> command tree, and how a command line that does not parse is reported.</summary>
internal static class CliApp
{
    public static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("steward: run, watch and keep LLM agents from the terminal.")
        {
            AskCommand.Create(),
            ChatCommand.Create(),
            SessionsCommand.Create(),
            PresetsCommand.Create(),
            ModelsCommand.Create(),
            BudgetsCommand.Create(),
            CostsCommand.Create(),
            TracesCommand.Create(),
            EvalCommand.Create(),
            CorpusCommand.Create(),
            FeedbackCommand.Create(),
            AgentsCommand.Create(),
            KeysCommand.Create(),
            UsersCommand.Create(),
            RunsCommand.Create(),
        };
        // Usage lines name the command people type, not the assembly that `dotnet run` starts (Steward.Cli).
        root.HelpName = "steward";
        CliValues.ApplyTo(root);
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        ApplyTerminalWidth(Environment.GetEnvironmentVariable("COLUMNS"));
        var parse = CreateRootCommand().Parse(args);
        if (ReportParseErrors(parse, Console.Error) is { } code)
        {
            return code;
        }

        // Ctrl+C and SIGTERM cancel the command's token; the process then waits (instead of System.CommandLine's two seconds)
        // for every run in flight to end as Cancelled and be stored, even when the database is busy with other processes.
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) }).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes each parse error as one line (the command's help hint on the last) and returns exit code 2; returns
    /// <see langword="null"/> when the command line parsed.
    /// </summary>
    public static int? ReportParseErrors(ParseResult parse, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(error);
        if (parse.Errors.Count == 0)
        {
            return null;
        }

        var command = string.Join(' ', Path(parse.CommandResult));
        var messages = parse.Errors.Select(e => e.Message.ReplaceLineEndings(" ").Trim()).Distinct(StringComparer.Ordinal).ToArray();
        for (var i = 0; i < messages.Length; i++)
        {
            var hint = i == messages.Length - 1 ? $" See '{command} --help'." : "";
            error.WriteLine("error: " + messages[i] + hint);
        }

        return ExitCodes.InvalidArguments;
    }

    /// <summary>
    /// Piped output has no terminal to measure, so tables were cut to 80 columns whatever the user set: COLUMNS (the
    /// shells' and POSIX's way to say the width) decides when it is a positive number.
    /// </summary>
    internal static void ApplyTerminalWidth(string? columns)
    {
        if (int.TryParse(columns, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var width) && width is > 0 and <= 10_000)
        {
            Spectre.Console.AnsiConsole.Profile.Width = width;
            CliErrors.Stderr.Profile.Width = width;
        }
    }

    private static Stack<string> Path(System.CommandLine.Parsing.CommandResult result)
    {
        var names = new Stack<string>();
        for (System.CommandLine.Parsing.SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is System.CommandLine.Parsing.CommandResult c)
            {
                names.Push(c.Command is RootCommand ? "steward" : c.Command.Name);
            }
        }

        return names;
    }
}
