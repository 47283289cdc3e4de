using Steward.Budgets;
using Steward.Keys;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Keys;

/// <summary>The hosts' view of the gateway's keys, through the real engine and its SQLite file.</summary>
public sealed class ApiKeysTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ApiKeys Keys => Engine.Get<ApiKeys>();

    [Fact]
    public async Task CreateAsync_ThenAuthenticateAndRevoke_KeyWorksUntilRevoked()
    {
        var (key, secret) = await Keys.CreateAsync(new ApiKeySpec { Name = "billing" }, Ct);

        Assert.StartsWith(ApiKeys.SecretPrefix, secret, StringComparison.Ordinal);
        var (found, rejection) = await Keys.AuthenticateAsync(secret, Ct);
        Assert.Equal(ApiKeyRejection.None, rejection);
        Assert.Equal(key.Id, found!.Id);

        await Keys.RevokeAsync("billing", Ct);

        Assert.Equal(ApiKeyRejection.Revoked, (await Keys.AuthenticateAsync(secret, Ct)).Rejection);
        Assert.NotNull((await Keys.GetAsync(key.Id, Ct)).RevokedAt);
    }

    [Fact]
    public async Task DescribeRemainingAsync_KeyWithAndWithoutBudget_DescribesOnlyTheBudget()
    {
        var (budgeted, _) = await Keys.CreateAsync(new ApiKeySpec { Name = "capped", BudgetUsd = 2.5m, BudgetPeriod = BudgetPeriod.Daily }, Ct);
        var (free, _) = await Keys.CreateAsync(new ApiKeySpec { Name = "free" }, Ct);

        Assert.Equal("2.5 USD", await Keys.DescribeRemainingAsync(budgeted, Ct));
        Assert.Null(await Keys.DescribeRemainingAsync(free, Ct));
        Assert.InRange(Keys.UntilBudgetResets(budgeted)!.Value, TimeSpan.FromTicks(1), TimeSpan.FromDays(1));
        Assert.Null(Keys.UntilBudgetResets(free));
    }

    [Fact]
    public async Task GetAsync_UnknownKey_ThrowsApiKeyNotFound()
    {
        var ex = await Assert.ThrowsAsync<ApiKeyNotFoundException>(() => Keys.GetAsync("nobody", Ct));

        Assert.Equal("nobody", ex.IdOrName);
    }

    [Fact]
    public async Task AuthenticateAsync_KeyJustMadeByAnotherProcess_AcceptedAtOnce()
    {
        await using var other = await TestEngine.StartAsync("http://127.0.0.1:9/v1", folder: Engine.Folder);
        // This process has just read the keys, so its snapshot is fresh when the other one makes a key.
        Assert.Equal(ApiKeyRejection.Unknown, (await Keys.AuthenticateAsync(ApiKeys.SecretPrefix + "made-up", Ct)).Rejection);

        var (_, secret) = await other.Get<ApiKeys>().CreateAsync(new ApiKeySpec { Name = "new-app" }, Ct);

        Assert.Equal(ApiKeyRejection.None, (await Keys.AuthenticateAsync(secret, Ct)).Rejection);
    }
}
