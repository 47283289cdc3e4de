using System.CommandLine;
using Steward.Cli.Commands;

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
};

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors)
    {
        Console.Error.WriteLine("error: " + error.Message);
    }

    Console.Error.WriteLine("Run 'steward --help' for usage.");
    return Steward.Cli.ExitCodes.InvalidArguments;
}

// Ctrl+C and SIGTERM cancel the command's token; the process then waits (instead of System.CommandLine's two seconds)
// for every run in flight to end as Cancelled and be stored, even when the database is busy with other processes.
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
