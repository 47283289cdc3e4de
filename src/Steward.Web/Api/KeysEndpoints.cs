using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Steward.Budgets;
using Steward.Keys;
using Steward.Web.Hosting;
using Steward.Web.Keys;

namespace Steward.Web.Api;

/// <summary>What <c>POST /api/keys</c> takes: the options of <c>steward keys create</c>.</summary>
internal sealed record CreateKeyRequest(
    string? Name, IReadOnlyList<string>? Models = null, decimal? BudgetUsd = null, long? BudgetTokens = null, BudgetPeriod? BudgetPeriod = null,
    int? RequestsPerMinute = null, int? TokensPerMinute = null, DateTimeOffset? ExpiresAt = null);

/// <summary>A key as listed: never its secret.</summary>
internal sealed record ApiKeyView(
    string Id, string Name, string Prefix, string State, IReadOnlyList<string> Models, decimal? BudgetUsd, long? BudgetTokens, BudgetPeriod BudgetPeriod,
    int? RequestsPerMinute, int? TokensPerMinute, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string Limits, string? BudgetRemaining)
{
    public static ApiKeyView From(ApiKeyInfo key, DateTimeOffset now, string? remaining) => new(
        key.Id, key.Name, key.Prefix, key.State(now), key.Models, key.BudgetUsd, key.BudgetTokens, key.BudgetPeriod, key.RequestsPerMinute, key.TokensPerMinute,
        key.ExpiresAt, key.CreatedAt, key.RevokedAt, key.DescribeLimits(), remaining);
}

/// <summary>A new key and its secret: the only time the secret is shown.</summary>
internal sealed record CreatedKey(ApiKeyView Key, string Secret);

/// <summary>
/// The gateway's virtual keys: list and show them without their secrets, create one (its secret returned once, only its
/// hash stored), revoke one. Keys are addressed by id (<c>key_…</c>) or name.
/// </summary>
internal static class KeysEndpoints
{
    /// <summary>The CLI's option names in <see cref="ApiKeySpec.Validate"/>'s problems, and the API fields they are.</summary>
    private static readonly (string Option, string Field)[] Fields =
    [
        ("NAME", "name"), ("--budget-usd", "budgetUsd"), ("--budget-tokens", "budgetTokens"), ("--period", "budgetPeriod"),
        ("--rpm", "requestsPerMinute"), ("--tpm", "tokensPerMinute"), ("--expires", "expiresAt"), ("--models", "models"),
    ];

    public static RouteGroupBuilder MapKeysEndpoints(this RouteGroupBuilder api)
    {
        var keys = api.MapGroup("/keys").WithTags("Keys");
        keys.MapGet("/", ListAsync).RequireAuthorization(StewardPolicies.Viewer).WithSummary("List the gateway's keys (no secrets)");
        keys.MapGet("/{key}", GetAsync).RequireAuthorization(StewardPolicies.Viewer).WithSummary("Show a key by id or name (no secret)");
        keys.MapPost("/", CreateAsync).RequireAuthorization(StewardPolicies.Admin).Accepts<CreateKeyRequest>("application/json")
            .WithSummary("Create a key").WithDescription("Answers 201 with the key's secret (sk-stw-…), shown this once: only its SHA-256 is stored.");
        keys.MapPost("/{key}/revoke", RevokeAsync).RequireAuthorization(StewardPolicies.Admin).WithSummary("Revoke a key (it stops working at once)");
        return keys;
    }

    internal static async Task<Ok<IReadOnlyList<ApiKeyView>>> ListAsync(KeyUsageQueries queries, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var keys = await queries.GetKeysAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok<IReadOnlyList<ApiKeyView>>([.. keys.Select(k => ApiKeyView.From(k.Key, now, k.Remaining))]);
    }

    internal static async Task<Results<Ok<ApiKeyView>, ProblemHttpResult>> GetAsync(
        string key, ApiKeys store, TimeProvider time, CancellationToken cancellationToken)
    {
        var info = await FindAsync(store, key, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(await ViewAsync(info, store, time, cancellationToken).ConfigureAwait(false));
    }

    internal static async Task<Results<Created<CreatedKey>, ProblemHttpResult>> CreateAsync(
        HttpContext context, ApiKeys store, IOptions<ApiOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var body = await ApiBody.ReadAsync<CreateKeyRequest>(context, options.Value.MaxRequestBytes, cancellationToken).ConfigureAwait(false);
        var spec = new ApiKeySpec
        {
            Name = body.Name?.Trim() ?? "",
            Models = body.Models ?? [],
            BudgetUsd = body.BudgetUsd,
            BudgetTokens = body.BudgetTokens,
            BudgetPeriod = body.BudgetPeriod ?? BudgetPeriod.None,
            RequestsPerMinute = body.RequestsPerMinute,
            TokensPerMinute = body.TokensPerMinute,
            ExpiresAt = body.ExpiresAt,
        };
        var problems = spec.Validate(time.GetUtcNow()).Select(ToField).ToArray();
        if (problems.Length > 0)
        {
            throw new ApiProblem(StatusCodes.Status400BadRequest, "Invalid key", string.Join("; ", problems.Select(p => p.Problem)) + ".", problems[0].Field is { Length: > 0 } field ? field : null);
        }

        try
        {
            var (key, secret) = await store.CreateAsync(spec, cancellationToken).ConfigureAwait(false);
            var view = await ViewAsync(key, store, time, cancellationToken).ConfigureAwait(false);
            return TypedResults.Created($"/api/keys/{key.Id}", new CreatedKey(view, secret));
        }
        catch (ArgumentException ex)
        {
            // The name is taken (checked under the store's write lock).
            throw new ApiProblem(StatusCodes.Status409Conflict, "Key name taken", "name: " + ex.Message.Replace("('steward keys revoke " + spec.Name + "')", $"(POST /api/keys/{spec.Name}/revoke)", StringComparison.Ordinal), "name");
        }
    }

    internal static async Task<Results<Ok<ApiKeyView>, ProblemHttpResult>> RevokeAsync(
        string key, ApiKeys store, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            var info = await store.RevokeAsync(key, cancellationToken).ConfigureAwait(false);
            return TypedResults.Ok(await ViewAsync(info, store, time, cancellationToken).ConfigureAwait(false));
        }
        catch (ApiKeyNotFoundException)
        {
            throw NotFound(key);
        }
    }

    private static async Task<ApiKeyInfo> FindAsync(ApiKeys store, string key, CancellationToken cancellationToken)
    {
        try
        {
            return await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiKeyNotFoundException)
        {
            throw NotFound(key);
        }
    }

    private static async Task<ApiKeyView> ViewAsync(ApiKeyInfo key, ApiKeys keys, TimeProvider time, CancellationToken cancellationToken) =>
        ApiKeyView.From(key, time.GetUtcNow(), await keys.DescribeRemainingAsync(key, cancellationToken).ConfigureAwait(false));

    private static (string Field, string Problem) ToField(string problem)
    {
        foreach (var (option, field) in Fields)
        {
            if (problem.StartsWith(option + ":", StringComparison.Ordinal))
            {
                var text = problem[(option.Length + 1)..];
                foreach (var (o, f) in Fields)
                {
                    text = text.Replace(o, f, StringComparison.Ordinal);
                }

                return (field, field + ":" + text);
            }
        }

        return ("", problem);
    }

    private static ApiProblem NotFound(string key) => ApiProblem.NotFound("Key not found", $"No key '{key}' (by id or name). List keys with GET /api/keys.");
}
