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

return await parse.InvokeAsync();
