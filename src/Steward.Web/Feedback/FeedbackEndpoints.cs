using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Evaluation;

namespace Steward.Web.Feedback;

/// <summary>What a client sends to rate an answer: <c>{"rating": "up" | "down", "comment": "…"}</c>.</summary>
internal sealed record FeedbackRequest(string? Rating, string? Comment);

/// <summary>Feedback over HTTP, for applications that show Steward's answers in their own UI.</summary>
internal static class FeedbackEndpoints
{
    public static IEndpointRouteBuilder MapFeedbackEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/runs/{runId:guid}/feedback", GiveAsync).RequireAuthorization(Steward.Web.Hosting.StewardPolicies.Operator);
        app.MapGet("/api/runs/{runId:guid}/feedback", GetAsync).RequireAuthorization(Steward.Web.Hosting.StewardPolicies.Viewer);
        return app;
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
