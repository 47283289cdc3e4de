using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Sessions;

namespace Steward.Web.History;

/// <summary>The versioned session export as a file download, so the browser saves it like any other file.</summary>
internal static class SessionExportEndpoints
{
    public static IEndpointRouteBuilder MapSessionExportEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/sessions/{sessionId:guid}/export", ExportAsync).RequireAuthorization(Steward.Web.Hosting.StewardPolicies.Operator);
        return app;
    }

    internal static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ExportAsync(
        Guid sessionId, SessionExporter exporter, CancellationToken cancellationToken)
    {
        try
        {
            // Buffered so a missing session still answers 404 before any byte is sent.
            using var buffer = new MemoryStream();
            await exporter.WriteAsync(sessionId, buffer, cancellationToken).ConfigureAwait(false);
            return TypedResults.File(buffer.ToArray(), "application/json", $"steward-session-{sessionId}.json");
        }
        catch (SessionNotFoundException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status404NotFound, title: "Session not found");
        }
    }
}
