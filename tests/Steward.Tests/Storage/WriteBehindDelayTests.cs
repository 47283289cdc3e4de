using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Tests.Storage;

/// <summary>
/// Gateway runs are stored behind their answer and wait up to <c>Steward:Storage:WriteBehindDelay</c> for company, so
/// runs arriving one at a time still share a commit; a write someone waits for (a chat run's start) never waits for that
/// delay. The clock is a fake one: a write that waited for the delay cannot complete before the test moves the clock.
/// </summary>
public sealed class WriteBehindDelayTests : IAsyncLifetime
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(50);
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-behind-");
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private ServiceProvider? _services;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = Path.Combine(_folder.FullName, "steward.db"),
            ["Steward:Storage:WriteBehindDelay"] = Delay.ToString(),
            ["Steward:Agents:Directory"] = _folder.FullName,
        }).Build();
        _services = new ServiceCollection().AddSingleton<TimeProvider>(_time).AddLogging().AddStewardEngine(configuration).BuildServiceProvider();
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

    [Fact]
    public async Task StoreAsync_RunsArrivingOneAtATime_AreCommittedTogetherWhenTheDelayEnds()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var (firstSession, first) = NewRun(sessions, "First");
        var firstWrite = writer.StoreAsync(first, firstSession, [], ("First", "Answer"), [], DateTime.UtcNow);

        // However long real time passes, the write waits for the (fake) delay, gathering the runs that come meanwhile.
        await Task.Delay(200, Ct);
        Assert.False(firstWrite.IsCompleted);
        var (secondSession, second) = NewRun(sessions, "Second");
        var secondWrite = writer.StoreAsync(second, secondSession, [], ("Second", "Answer"), [], DateTime.UtcNow);
        await Task.Delay(50, Ct);
        Assert.False(secondWrite.IsCompleted);

        _time.Advance(Delay);
        await Task.WhenAll(firstWrite, secondWrite).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(["First", "Second"], (await sessions.ListAsync(null, 0, 10, Ct)).Select(s => s.Title).Order());
    }

    [Fact]
    public async Task StartAsync_WhileRunsWaitBehind_IsStoredAtOnceWithThem()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var (behindSession, behind) = NewRun(sessions, "Behind");
        var behindWrite = writer.StoreAsync(behind, behindSession, [], ("Behind", "Answer"), [], DateTime.UtcNow);
        await Task.Delay(100, Ct);

        // A chat run's start is awaited by the run: it must not wait for the delay, and it takes the waiting run along.
        var (chatSession, chat) = NewRun(sessions, "Chat");
        chat.Status = "Running";
        await writer.StartAsync(chat, chatSession, Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await behindWrite.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(2, (await sessions.ListAsync(null, 0, 10, Ct)).Count);
    }

    [Fact]
    public void WriteBehindDelay_OutOfRange_RefusedAtStartNamingTheSetting()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = Path.Combine(_folder.FullName, "other.db"),
            ["Steward:Storage:WriteBehindDelay"] = "00:00:05",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddStewardEngine(configuration).BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<StorageOptions>>().Value);
        Assert.Contains("Steward:Storage:WriteBehindDelay", error.Message, StringComparison.Ordinal);
        Assert.Contains("00:00:05", error.Message, StringComparison.Ordinal);
    }

    private static (SessionRecord Session, RunRecord Run) NewRun(SessionStore sessions, string query)
    {
        var session = sessions.NewSession("bench", query);
        return (session, new RunRecord
        {
            Id = Guid.CreateVersion7(), SessionId = session.Id, PresetName = "bench", Provider = "openai", Model = "gpt-4o-mini", Query = query,
            Status = "Completed", StartedAt = DateTime.UtcNow, EndedAt = DateTime.UtcNow, Purpose = "gateway",
        });
    }
}
