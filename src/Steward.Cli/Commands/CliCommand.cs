namespace Steward.Cli.Commands;

/// <summary>The frame every command runs in: services created, database ready, failures turned into exit codes.</summary>
internal static class CliCommand
{
    public static async Task<int> RunAsync(
        Func<CliServices, Task<int>> body, CancellationToken cancellationToken, bool needsDatabase = true, IReadOnlyDictionary<string, string?>? settings = null)
    {
        try
        {
            await using var services = CliServices.Create(settings);
            if (needsDatabase)
            {
                await services.InitializeDatabaseAsync(cancellationToken).ConfigureAwait(false);
            }

            return await body(services).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            return CliErrors.Report(ex);
        }
    }
}
