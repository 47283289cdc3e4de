using Microsoft.Extensions.Options;
using Spectre.Console;
using Steward.Agents;
using Steward.Providers;
using Steward.Sessions;

namespace Steward.Cli;

/// <summary>Translates engine failures into one line on standard error and a named exit code.</summary>
internal static class CliErrors
{
    public static int Report(Exception ex)
    {
        var (code, message) = ex switch
        {
            PresetNotFoundException => (ExitCodes.NotFound, ex.Message),
            PresetLoadException => (ExitCodes.InvalidPreset, ex.Message),
            SessionNotFoundException => (ExitCodes.NotFound, ex.Message),
            Steward.Keys.ApiKeyNotFoundException => (ExitCodes.NotFound, ex.Message),
            Steward.Users.UserNotFoundException => (ExitCodes.NotFound, ex.Message),
            Steward.Telemetry.TraceNotFoundException => (ExitCodes.NotFound, ex.Message),
            SessionImportException { CanImportAsCopy: true } => (ExitCodes.InvalidArguments, ex.Message + " Add --as-copy to import it with new ids."),
            SessionImportException => (ExitCodes.InvalidArguments, ex.Message),
            Steward.Evaluation.Batches.EvaluationDatasetException => (ExitCodes.InvalidArguments, ex.Message),
            Steward.Evaluation.UnknownEvaluatorException => (ExitCodes.InvalidPreset, ex.Message),
            ProviderNotConfiguredException => (ExitCodes.NotConfigured, ex.Message),
            ProviderException => (ExitCodes.ProviderFailed, ex.Message),
            Steward.Costs.PricingCatalogException => (ExitCodes.NotConfigured, ex.Message),
            Steward.Budgets.BudgetExceededException => (ExitCodes.BudgetExceeded, ex.Message),
            Steward.Storage.StorageException => (ExitCodes.StorageUnavailable, ex.Message),
            OptionsValidationException o => (ExitCodes.NotConfigured, "Invalid configuration: " + string.Join(" ", o.Failures)),
            ArgumentException => (ExitCodes.InvalidArguments, ex.Message),
            Steward.LocalModels.Models.ModelNotFoundException => (ExitCodes.NotFound, ex.Message),
            Steward.LocalModels.Models.ModelChecksumException => (ExitCodes.Failure, ex.Message),
            Steward.LocalModels.Models.ModelDownloadException => (ExitCodes.Failure, ex.Message),
            Steward.LocalModels.Gguf.GgufFormatException => (ExitCodes.InvalidArguments, ex.Message),
            Steward.LocalModels.ContextWindowExceededException => (ExitCodes.InvalidArguments, ex.Message),
            Steward.LocalModels.ChatTemplateException => (ExitCodes.InvalidArguments, ex.Message),
            FileNotFoundException f => (ExitCodes.NotFound, f.FileName is null ? f.Message : $"File not found: {f.FileName}"),
            OperationCanceledException => (ExitCodes.Cancelled, "Cancelled."),
            _ => (ExitCodes.Failure, $"Unexpected error ({ex.GetType().Name}): {ex.Message}"),
        };
        WriteError(message);
        return code;
    }

    public static int FromRun(AgentResponse response)
    {
        if (response.Error is not { } error)
        {
            return ExitCodes.Success;
        }

        WriteError(error.Message);
        return error.Code switch
        {
            RunErrorCodes.Cancelled => ExitCodes.Cancelled,
            RunErrorCodes.BudgetExceeded => ExitCodes.BudgetExceeded,
            RunErrorCodes.PresetNotFound or RunErrorCodes.SessionNotFound => ExitCodes.NotFound,
            RunErrorCodes.PresetInvalid => ExitCodes.InvalidPreset,
            RunErrorCodes.ProviderNotConfigured => ExitCodes.NotConfigured,
            RunErrorCodes.InvalidRequest or RunErrorCodes.ContextWindowExceeded => ExitCodes.InvalidArguments,
            _ when RunErrorCodes.IsProvider(error.Code) => ExitCodes.ProviderFailed,
            _ => ExitCodes.Failure,
        };
    }

    public static void WriteError(string message) =>
        Console.Error.WriteLine("error: " + message.ReplaceLineEndings(" "));

    internal static IAnsiConsole Stderr { get; } = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
}
