using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Evaluation;

namespace Steward.Web.Api;

/// <summary>What a client sends to rate an answer: <c>{"rating": "up" | "down", "comment": "…"}</c>.</summary>
internal sealed record FeedbackRequest(string? Rating, string? Comment);

/// <summary>Feedback over HTTP, for applications that show Steward's answers in their own UI.</summary>
internal static class FeedbackEndpoints
{
    /// <summary><c>POST</c> and <c>GET /api/runs/{id}/feedback</c>, on the runs group.</summary>
    public static RouteGroupBuilder MapFeedbackEndpoints(this RouteGroupBuilder runs)
    {
        runs.MapPost("/{id}/feedback", async (string id, HttpContext context, FeedbackStore store, Microsoft.Extensions.Options.IOptions<ApiOptions> options, CancellationToken cancellationToken) =>
                await GiveAsync(ApiQuery.Id("id", id, "run"),
                    await ApiBody.ReadAsync<FeedbackRequest>(context, options.Value.MaxRequestBytes, cancellationToken).ConfigureAwait(false), store, cancellationToken).ConfigureAwait(false))
            .Accepts<FeedbackRequest>("application/json").RequireAuthorization(Hosting.StewardPolicies.Operator).WithSummary("Rate a run's answer up or down");
        runs.MapGet("/{id}/feedback", (string id, FeedbackStore store, CancellationToken cancellationToken) => GetAsync(ApiQuery.Id("id", id, "run"), store, cancellationToken))
            .RequireAuthorization(Hosting.StewardPolicies.Viewer).WithSummary("A run's rating");
        return runs;
    }

    internal static async Task<Results<Ok<RunFeedback>, ProblemHttpResult>> GiveAsync(
        Guid runId, FeedbackRequest request, FeedbackStore store, CancellationToken cancellationToken)
    {
        var rating = request.Rating?.Trim().ToLowerInvariant() switch
        {
            "up" => FeedbackRating.Up,
            "down" => FeedbackRating.Down,
            _ => (FeedbackRating?)null,
        };
        if (rating is not { } given)
        {
            return TypedResults.Problem("rating: must be \"up\" or \"down\".", statusCode: StatusCodes.Status400BadRequest, title: "Invalid feedback");
        }

        try
        {
            return TypedResults.Ok(await store.GiveAsync(runId, given, request.Comment, "api", cancellationToken).ConfigureAwait(false));
        }
        catch (Steward.Sessions.SessionNotFoundException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status404NotFound, title: "Run not found");
        }
        catch (ArgumentException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status400BadRequest, title: "Invalid feedback");
        }
    }

    internal static async Task<Results<Ok<RunFeedback>, ProblemHttpResult>> GetAsync(Guid runId, FeedbackStore store, CancellationToken cancellationToken) =>
        (await store.LoadAsync([runId], cancellationToken).ConfigureAwait(false)).TryGetValue(runId, out var feedback)
            ? TypedResults.Ok(feedback)
            : TypedResults.Problem($"Nobody has rated run {runId} yet.", statusCode: StatusCodes.Status404NotFound, title: "No feedback");
}
