using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward.Calls;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Tests.Storage;

/// <summary>
/// The run writer stores rows of a kind with as few statements as it can (multi-row inserts, no lookups for a session it
/// creates): whatever the number of rows, every one must be stored, in order, and a later run in the same session must
/// continue its messages.
/// </summary>
public sealed class RunWriterTests : IAsyncLifetime
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-writer-");
    private ServiceProvider? _services;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = Path.Combine(_folder.FullName, "steward.db"),
            ["Steward:Agents:Directory"] = _folder.FullName,
        }).Build();
        _services = new ServiceCollection().AddLogging().AddStewardEngine(configuration).BuildServiceProvider();
        await _services.GetRequiredService<DatabaseInitializer>().InitializeAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 2)]
    [InlineData(37, 17)]
    public async Task StoreAsync_NewSessionWithManyEventsAndCalls_EveryRowStoredInOrder(int eventCount, int callCount)
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var session = sessions.NewSession("bench", "First question");
        var first = Run(session.Id, "First question");
        var now = DateTime.UtcNow;

        await writer.StoreAsync(first, session, Events(first.Id, eventCount), ("First question", "First answer"), Calls(first.Id, callCount), now);

        var detail = await sessions.GetAsync(session.Id, Ct);
        Assert.Equal([(1, "user", "First question"), (2, "assistant", "First answer")], detail.Messages.Select(m => (m.Sequence, m.Role, m.Content)));
        var run = Assert.Single(detail.Runs);
        Assert.Equal(Enumerable.Range(1, eventCount).Select(i => $"event {i}"), run.Events.Select(e => e.Message));
        var calls = (await _services!.GetRequiredService<ModelCallStore>().ForRunsAsync([first.Id], Ct))[first.Id].ToArray();
        Assert.Equal(Enumerable.Range(1, callCount), calls.Select(c => c.Sequence));
        Assert.Equal(Enumerable.Range(1, callCount).Select(i => (long)i), calls.Select(c => c.Usage.InputTokens));
        Assert.Equal(now, detail.Summary.UpdatedAt.UtcDateTime, TimeSpan.FromMilliseconds(1));

        // A second run in the same (now stored) session continues its messages and touches it.
        var second = Run(session.Id, "Second question");
        var later = now.AddSeconds(5);
        await writer.StoreAsync(second, newSession: null, Events(second.Id, 2), ("Second question", "Second answer"), Calls(second.Id, 1), later);

        detail = await sessions.GetAsync(session.Id, Ct);
        Assert.Equal([1, 2, 3, 4], detail.Messages.Select(m => m.Sequence));
        Assert.Equal("Second answer", detail.Messages[^1].Content);
        Assert.Equal(later, detail.Summary.UpdatedAt.UtcDateTime, TimeSpan.FromMilliseconds(1));
    }

    private static RunRecord Run(Guid sessionId, string query) => new()
    {
        Id = Guid.CreateVersion7(), SessionId = sessionId, PresetName = "bench", Provider = "openai", Model = "gpt-4o-mini", Query = query,
        Status = "Completed", StartedAt = DateTime.UtcNow, EndedAt = DateTime.UtcNow, Purpose = "gateway",
    };

    private static RunEventRecord[] Events(Guid runId, int count) =>
        [.. Enumerable.Range(1, count).Select(i => new RunEventRecord { RunId = runId, Sequence = i, Stage = "Running", Message = $"event {i}", Timestamp = DateTime.UtcNow })];

    private static ModelCallRecord[] Calls(Guid runId, int count) =>
        [.. Enumerable.Range(1, count).Select(i => new ModelCallRecord
        {
            Id = Guid.CreateVersion7(), RunId = runId, Sequence = i, Purpose = "gateway", PresetName = "bench", Provider = "openai", Model = "gpt-4o-mini",
            StartedAt = DateTime.UtcNow, DurationMs = 1, InputTokens = i, OutputTokens = 1, Status = "Completed",
        })];
}
