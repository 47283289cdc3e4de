using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Steward.Keys;

namespace Steward.Web.Gateway;

/// <summary>
/// Who calls the gateway: every <c>/v1</c> request carries a virtual key (<c>Authorization: Bearer sk-stw-…</c>), checked
/// before anything else, and is held to the key's requests per minute by ASP.NET Core's rate limiter, partitioned by key.
/// Requests elsewhere pass untouched.
/// </summary>
internal static partial class GatewayKeys
{
    private const string KeyItem = "steward.api-key";
    private const string RequestIdHeader = "x-request-id";

    /// <summary>
    /// A request for the gateway's endpoints. In any case, as routing matches them: an upper-case <c>/V1/...</c> reached the
    /// endpoint without its key checked (and failed there with a 500).
    /// </summary>
    public static bool IsGateway(HttpRequest request) => request.Path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase);

    /// <summary>The key of an authenticated gateway request.</summary>
    public static ApiKeyInfo Key(HttpContext context) =>
        context.Items[KeyItem] as ApiKeyInfo ?? throw new InvalidOperationException("The gateway's key check did not run for this request.");

    /// <summary>The request id every gateway response carries (<c>x-request-id</c>), also used in logs.</summary>
    public static string RequestId(HttpContext context) => context.TraceIdentifier;

    public static IServiceCollection AddStewardGatewayRateLimits(this IServiceCollection services) => services.AddRateLimiter(options =>
    {
        options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            context.Items[KeyItem] is ApiKeyInfo { RequestsPerMinute: { } rpm } key
                ? RateLimitPartition.GetFixedWindowLimiter(key.Id, _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = rpm, Window = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true,
                })
                : RateLimitPartition.GetNoLimiter(""));
        options.OnRejected = async (rejected, _) =>
        {
            var key = Key(rejected.HttpContext);
            var after = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? retry : TimeSpan.FromSeconds(60);
            await new GatewayError(StatusCodes.Status429TooManyRequests, "rate_limit_error", "rate_limit_exceeded",
                string.Create(CultureInfo.InvariantCulture, $"Rate limit reached for key '{key.Name}': {key.RequestsPerMinute} requests per minute. Try again in {Math.Ceiling(after.TotalSeconds)} s."))
            {
                RetryAfter = after,
            }.WriteAsync(rejected.HttpContext.Response).ConfigureAwait(false);
        };
    });

    /// <summary>Checks the key of every <c>/v1</c> request; put it before the rate limiter, which partitions by key.</summary>
    public static IApplicationBuilder UseStewardGatewayKeys(this IApplicationBuilder app)
    {
        var keys = app.ApplicationServices.GetRequiredService<ApiKeys>();
        return app.Use(async (context, next) =>
        {
            if (!IsGateway(context.Request))
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            context.TraceIdentifier = "req_" + UUIDNext.Uuid.NewSequential().ToString("N");
            context.Response.Headers[RequestIdHeader] = context.TraceIdentifier;
            var (key, rejection) = await keys.AuthenticateAsync(Bearer(context.Request), context.RequestAborted).ConfigureAwait(false);
            if (rejection != ApiKeyRejection.None)
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await new GatewayError(StatusCodes.Status401Unauthorized, "invalid_request_error", "invalid_api_key", rejection switch
                {
                    ApiKeyRejection.Missing => "You didn't provide an API key. Send a Steward key as 'Authorization: Bearer sk-stw-…' (make one with 'steward keys create NAME').",
                    ApiKeyRejection.Revoked => $"The key '{key!.Name}' was revoked. Make a new one with 'steward keys create NAME'.",
                    ApiKeyRejection.Expired => $"The key '{key!.Name}' expired. Make a new one with 'steward keys create NAME'.",
                    _ => "Incorrect API key provided. Steward keys start with sk-stw- and come from 'steward keys create NAME'.",
                }).WriteAsync(context.Response).ConfigureAwait(false);
                return;
            }

            context.Items[KeyItem] = key;
            await next(context).ConfigureAwait(false);
        });
    }

    private static string? Bearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }

        // Some clients (Azure-style SDKs) send the key in api-key.
        return request.Headers.TryGetValue("api-key", out var key) ? key.ToString().Trim() : null;
    }
}

/// <summary>
/// Tokens per minute per key: a request's prompt (estimated from its length) is taken from the key's minute before the
/// model is called, its output after; a request whose prompt alone exceeds what is left is refused with 429.
/// </summary>
internal sealed class GatewayTokenLimits : IDisposable
{
    private readonly PartitionedRateLimiter<ApiKeyInfo> _limiter = PartitionedRateLimiter.Create<ApiKeyInfo, string>(key =>
        key.TokensPerMinute is { } tpm
            ? RateLimitPartition.GetFixedWindowLimiter(key.Id, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = tpm, Window = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true,
            })
            : RateLimitPartition.GetNoLimiter(key.Id));

    /// <summary>Takes the prompt's tokens from the key's minute, or throws a 429 <see cref="GatewayError"/>.</summary>
    public void TakePrompt(ApiKeyInfo key, long estimatedTokens)
    {
        if (key.TokensPerMinute is not { } tpm)
        {
            return;
        }

        var permits = (int)Math.Clamp(estimatedTokens, 1, tpm);
        using var lease = _limiter.AttemptAcquire(key, permits);
        if (!lease.IsAcquired || estimatedTokens > tpm)
        {
            var after = lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? retry : TimeSpan.FromSeconds(60);
            throw new GatewayError(StatusCodes.Status429TooManyRequests, "rate_limit_error", "rate_limit_exceeded",
                string.Create(CultureInfo.InvariantCulture, $"Rate limit reached for key '{key.Name}': {tpm:N0} tokens per minute, and this request's prompt is about {estimatedTokens:N0}."))
            {
                RetryAfter = after,
            };
        }
    }

    /// <summary>Counts the answer's tokens against the key's minute (what is left of it, at most).</summary>
    public void TakeOutput(ApiKeyInfo key, long tokens)
    {
        if (key.TokensPerMinute is { } tpm && tokens > 0)
        {
            _limiter.AttemptAcquire(key, (int)Math.Min(tokens, tpm)).Dispose();
        }
    }

    public void Dispose() => _limiter.Dispose();
}
