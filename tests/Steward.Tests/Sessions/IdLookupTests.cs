using Steward.Sessions;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Sessions;

public sealed class IdLookupTests : EngineTest
{
    // Two UUIDv7 ids made within the same minute share their first eight digits (the timestamp's top bits).
    private static readonly Guid First = Guid.Parse("0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d90");
    private static readonly Guid Second = Guid.Parse("0198c3a2-7e01-7aa0-8b11-5c2d0f9e1a42");

    private async Task StoreSessionsAsync()
    {
        var store = Engine.Get<SessionStore>();
        foreach (var id in new[] { First, Second })
        {
            await store.InsertRecordAsync(new SessionRecord
            {
                Id = id, Title = "t", PresetName = "assistant", CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
            }, [], TestContext.Current.CancellationToken);
        }
    }

    [Theory]
    [InlineData("0198c3a2-5")]
    [InlineData("0198C3A2-5B")]
    [InlineData("0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d90")]
    public async Task ResolveAsync_UniquePrefixOrWholeId_FindsTheSession(string typed)
    {
        await StoreSessionsAsync();

        Assert.Equal(First, await Engine.Get<IdLookup>().ResolveAsync(IdKind.Session, typed, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ResolveAsync_SharedTimePrefix_IsRefusedListingTheCandidates()
    {
        await StoreSessionsAsync();

        var error = await Assert.ThrowsAsync<AmbiguousIdException>(() => Engine.Get<IdLookup>().ResolveAsync(IdKind.Session, "0198c3a2", TestContext.Current.CancellationToken));

        Assert.Contains(First.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains(Second.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("type more of it", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0198c3a3")]
    [InlineData("0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d91")]
    public async Task ResolveAsync_NothingStartsWithIt_NotFoundNamesWhatWasTyped(string typed)
    {
        await StoreSessionsAsync();

        var error = await Assert.ThrowsAsync<SessionNotFoundException>(() => Engine.Get<IdLookup>().ResolveAsync(IdKind.Session, typed, TestContext.Current.CancellationToken));
        Assert.Contains(typed[..8], error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResolveAsync_NotHex_IsRefusedAsBadInput()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Engine.Get<IdLookup>().ResolveAsync(IdKind.Run, "last", TestContext.Current.CancellationToken));
        Assert.Contains("not a run id", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShortestUniqueAsync_SharedTimePrefix_ShowsAPartThatDiffers()
    {
        await StoreSessionsAsync();

        var shortIds = await Engine.Get<IdLookup>().ShortestUniqueAsync(IdKind.Session, [First, Second], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("0198c3a2-5", shortIds[First]);
        Assert.Equal("0198c3a2-7", shortIds[Second]);
        foreach (var (id, shortId) in shortIds)
        {
            Assert.Equal(id, await Engine.Get<IdLookup>().ResolveAsync(IdKind.Session, shortId, TestContext.Current.CancellationToken));
        }
    }
}
