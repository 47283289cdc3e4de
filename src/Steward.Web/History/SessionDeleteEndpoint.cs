using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Sessions;
using Steward.Web.Hosting;

namespace Steward.Web.History;

/// <summary><c>DELETE /api/sessions/{id}</c>: deletes a session and its runs for good; admin only.</summary>
internal static class SessionDeleteEndpoint
{
    public static IEndpointRouteBuilder MapSessionDeleteEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapDelete("/api/sessions/{sessionId:guid}", DeleteAsync).RequireAuthorization(StewardPolicies.Admin);
        return app;
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(Guid sessionId, SessionStore sessions, CancellationToken cancellationToken)
    {
        try
        {
            await sessions.DeleteAsync(sessionId, cancellationToken).ConfigureAwait(false);
            return TypedResults.NoContent();
        }
        catch (SessionNotFoundException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status404NotFound, title: "Session not found");
        }
    }
}
