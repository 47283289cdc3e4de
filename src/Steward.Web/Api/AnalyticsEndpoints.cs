using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Analytics;
using Steward.Costs;
using Steward.Evaluation;
using Steward.Web.Hosting;

namespace Steward.Web.Api;

/// <summary>
/// Analytics: the read models the Analytics page shows (the cost report, the quality trend, latency percentiles), for
/// the same filter (from, to, agent, model, provider, sessionId, user, tag: the Analytics page's address takes the same
/// user and tag); days begin in <c>Steward:Reports:TimeZone</c>.
/// </summary>
internal static class AnalyticsEndpoints
{
    public static RouteGroupBuilder MapAnalyticsEndpoints(this RouteGroupBuilder api)
    {
        var analytics = api.MapGroup("/analytics").WithTags("Analytics").RequireAuthorization(StewardPolicies.Viewer);
        analytics.MapGet("/", SnapshotAsync).WithSummary("Everything the Analytics page shows for a filter");
        analytics.MapGet("/costs", CostsAsync).WithSummary("The cost report: totals, by agent, model, day and week, judges apart");
        analytics.MapGet("/quality", QualityAsync).WithSummary("The quality trend by agent and day");
        analytics.MapGet("/latency", LatencyAsync).WithSummary("Latency percentiles of finished runs");
        return analytics;
    }

    internal static async Task<Ok<AnalyticsSnapshot>> SnapshotAsync(
        AnalyticsQueries queries, string? from, string? to, string? agent, string? model, string? provider, string? sessionId, string? user, string? tag,
        CancellationToken cancellationToken) =>
        TypedResults.Ok(await queries.GetAsync(Filter(from, to, agent, model, provider, sessionId, user, tag), cancellationToken).ConfigureAwait(false));

    internal static async Task<Ok<CostReport>> CostsAsync(
        AnalyticsQueries queries, string? from, string? to, string? agent, string? model, string? provider, string? sessionId, string? user, string? tag,
        CancellationToken cancellationToken) =>
        TypedResults.Ok(await queries.GetCostsAsync(Filter(from, to, agent, model, provider, sessionId, user, tag), cancellationToken).ConfigureAwait(false));

    internal static async Task<Ok<IReadOnlyList<QualityTrendPoint>>> QualityAsync(
        AnalyticsQueries queries, string? from, string? to, string? agent, string? model, string? provider, string? sessionId, string? user, string? tag,
        CancellationToken cancellationToken) =>
        TypedResults.Ok(await queries.GetQualityTrendAsync(Filter(from, to, agent, model, provider, sessionId, user, tag), cancellationToken).ConfigureAwait(false));

    internal static async Task<Ok<LatencyPercentiles>> LatencyAsync(
        AnalyticsQueries queries, string? from, string? to, string? agent, string? model, string? provider, string? sessionId, string? user, string? tag,
        CancellationToken cancellationToken) =>
        TypedResults.Ok(await queries.GetLatencyAsync(Filter(from, to, agent, model, provider, sessionId, user, tag), cancellationToken).ConfigureAwait(false));

    private static CostFilter Filter(string? from, string? to, string? agent, string? model, string? provider, string? sessionId, string? user, string? tag)
    {
        var (start, end) = ApiQuery.Range(from, to);
        return new CostFilter
        {
            From = start, To = end, Agent = Blank(agent), Model = Blank(model), Provider = Blank(provider), UserId = Blank(user)?.Trim(), Tag = Blank(tag)?.Trim(),
            SessionId = string.IsNullOrEmpty(sessionId) ? null : ApiQuery.Id("sessionId", sessionId, "session"),
        };
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
