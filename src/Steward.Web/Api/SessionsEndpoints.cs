using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Steward.Sessions;
using Steward.Web.History;
using Steward.Web.Hosting;

namespace Steward.Web.Api;

/// <summary>The answer to an import: the stored session's id (a new one for a copy) and where to read it.</summary>
internal sealed record SessionImported(Guid Id, string Self);

/// <summary>
/// Sessions: list them with History's filters, read one with its messages and runs, export it as the versioned JSON
/// document, import such a document (every field checked first; nothing stored unless all of it is valid), delete one.
/// </summary>
internal static class SessionsEndpoints
{
    public static RouteGroupBuilder MapSessionsEndpoints(this RouteGroupBuilder api)
    {
        var sessions = api.MapGroup("/sessions").WithTags("Sessions");
        sessions.MapGet("/", ListAsync).RequireAuthorization(StewardPolicies.Viewer).WithSummary("List sessions")
            .WithDescription("Newest activity first, filtered as History filters (text in the title or questions, agent, last activity from/to, evaluation cases with includeEvaluation=true); paged with skip and take (1-200).");
        sessions.MapGet("/{id}", GetAsync).RequireAuthorization(StewardPolicies.Viewer).WithSummary("Get a session with its messages and runs");
        sessions.MapGet("/{id}/export", ExportAsync).RequireAuthorization(StewardPolicies.Operator).WithSummary("Export a session (versioned JSON)")
            .Produces(StatusCodes.Status200OK, contentType: "application/json");
        sessions.MapPost("/import", ImportAsync).RequireAuthorization(StewardPolicies.Admin).Accepts<SessionExportDocument>("application/json")
            .WithSummary("Import a session export").WithDescription("The body is a document from GET /api/sessions/{id}/export. asCopy=true gives the session and its runs new ids, so it can sit beside the one it was exported from.");
        sessions.MapDelete("/{id}", DeleteAsync).RequireAuthorization(StewardPolicies.Admin).WithSummary("Delete a session and its runs");
        return sessions;
    }

    internal static async Task<Ok<SessionPage>> ListAsync(
        SessionSearch search, string? text, string? agent, string? from, string? to, string? includeEvaluation, string? skip, string? take, CancellationToken cancellationToken)
    {
        var (start, end) = ApiQuery.Range(from, to);
        var page = ApiQuery.Page(skip, take, SessionSearch.MaxPageSize);
        var filter = new SessionFilter
        {
            Text = text, Agent = agent, From = start, To = end, IncludeEvaluation = ApiQuery.Bool("includeEvaluation", includeEvaluation) ?? false,
        };
        return TypedResults.Ok(await search.SearchAsync(filter, page.Skip, page.Take, cancellationToken).ConfigureAwait(false));
    }

    internal static async Task<Results<Ok<ChatSessionDetail>, ProblemHttpResult>> GetAsync(string id, StoredSessions store, CancellationToken cancellationToken)
    {
        var sessionId = ApiQuery.Id("id", id, "session");
        try
        {
            return TypedResults.Ok(await store.GetAsync(sessionId, cancellationToken).ConfigureAwait(false));
        }
        catch (SessionNotFoundException)
        {
            throw NotFound(sessionId);
        }
    }

    internal static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ExportAsync(string id, StoredSessions exporter, CancellationToken cancellationToken)
    {
        var sessionId = ApiQuery.Id("id", id, "session");
        try
        {
            // Buffered so a missing session still answers 404 before any byte is sent.
            using var buffer = new MemoryStream();
            await exporter.ExportAsync(sessionId, buffer, cancellationToken).ConfigureAwait(false);
            return TypedResults.File(buffer.ToArray(), "application/json", $"steward-session-{sessionId}.json");
        }
        catch (SessionNotFoundException)
        {
            throw NotFound(sessionId);
        }
    }

    internal static async Task<Results<Created<SessionImported>, ProblemHttpResult>> ImportAsync(
        HttpContext context, StoredSessions exporter, IOptions<ApiOptions> options, string? asCopy, CancellationToken cancellationToken)
    {
        var copy = ApiQuery.Bool("asCopy", asCopy) ?? false;
        var max = options.Value.MaxImportBytes;
        var body = ApiBody.Open(context, max);
        try
        {
            var id = await exporter.ImportAsync(body, copy, cancellationToken).ConfigureAwait(false);
            return TypedResults.Created($"/api/sessions/{id}", new SessionImported(id, $"/api/sessions/{id}"));
        }
        catch (SessionImportException ex) when (ex.InnerException is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
        {
            throw ApiBody.TooLarge(max);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw ApiBody.TooLarge(max);
        }
        catch (SessionImportException ex) when (ex.CanImportAsCopy)
        {
            throw new ApiProblem(StatusCodes.Status409Conflict, "Session already stored", ex.Message + " Import it with asCopy=true to store it beside the original under new ids.");
        }
        catch (SessionImportException ex)
        {
            throw new ApiProblem(StatusCodes.Status400BadRequest, "Invalid session export", ex.Message);
        }
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, StoredSessions store, CancellationToken cancellationToken)
    {
        var sessionId = ApiQuery.Id("id", id, "session");
        try
        {
            await store.DeleteAsync(sessionId, cancellationToken).ConfigureAwait(false);
            return TypedResults.NoContent();
        }
        catch (SessionNotFoundException)
        {
            throw NotFound(sessionId);
        }
    }

    private static ApiProblem NotFound(Guid id) => ApiProblem.NotFound("Session not found", $"No session with id {id}. List sessions with GET /api/sessions.");
}
