using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward.Budgets;
using Steward.Storage;

namespace Steward.Tests.Storage;

/// <summary>
/// The two write loops (runs, budget ledger) fail a write they cannot make and keep serving: a loop that died on a
/// failure it did not expect left its callers waiting for ever, and a CLI process with them, even after Ctrl+C.
/// </summary>
public sealed class WriteLoopFailureTests : IAsyncLifetime
{
    private static readonly TimeSpan Answered = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-loops-");
    private ServiceProvider? _services;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Removed => Path.Combine(_folder.FullName, "removed");

    public ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(Removed);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = Path.Combine(Removed, "steward.db"),
            ["Steward:Agents:Directory"] = _folder.FullName,
        }).Build();
        _services = new ServiceCollection().AddLogging().AddStewardEngine(configuration).BuildServiceProvider();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }

        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task RunWriter_DatabaseCannotBeOpened_EachWriteFailsNamingItAndTheLoopServesTheNext()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        // The database's folder is removed while the process runs (as a test's temporary folder is): opening the writer
        // then fails with a StorageException, not a DbException.
        Directory.Delete(Removed);

        for (var attempt = 0; attempt < 2; attempt++)
        {
            var run = new RunRecord { Id = Guid.NewGuid(), SessionId = Guid.NewGuid(), Status = "Running", StartedAt = DateTime.UtcNow };
            var error = await Assert.ThrowsAsync<StorageException>(() => writer.StartAsync(run, null, Ct).WaitAsync(Answered, Ct));
            Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task BudgetLedger_DatabaseCannotBeOpened_EachOperationFailsNamingItAndTheLoopServesTheNext()
    {
        var ledger = _services!.GetRequiredService<BudgetLedger>();
        // The database's folder is removed while the process runs (as a test's temporary folder is): opening the writer
        // then fails with a StorageException, not a DbException.
        Directory.Delete(Removed);

        for (var attempt = 0; attempt < 2; attempt++)
        {
            var error = await Assert.ThrowsAsync<StorageException>(() => ledger.ExpireAsync("this-process", Ct).WaitAsync(Answered, Ct));
            Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
        }
    }
}
