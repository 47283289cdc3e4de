using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Telemetry;

namespace Steward.Web.Api;

/// <summary>The trace store over HTTP: one run's spans for a waterfall, and OTLP-JSON export.</summary>
internal static class TraceEndpoints
{
    /// <summary><c>/api/runs/{id}/trace</c> and <c>/api/runs/{id}/trace/otlp</c>, on the runs group.</summary>
    public static RouteGroupBuilder MapTraceEndpoints(this RouteGroupBuilder runs)
    {
        runs.MapGet("/{id}/trace", (string id, StoredTraces store, CancellationToken cancellationToken) =>
                GetRunTraceAsync(ApiQuery.Id("id", id, "run"), store, cancellationToken))
            .RequireAuthorization(Hosting.StewardPolicies.Viewer).WithSummary("A run's spans, in tree order (the waterfall)");
        runs.MapGet("/{id}/trace/otlp", (string id, StoredTraces store, HttpContext context, CancellationToken cancellationToken) =>
                ExportRunTraceAsync(ApiQuery.Id("id", id, "run"), store, context, cancellationToken))
            .RequireAuthorization(Hosting.StewardPolicies.Viewer).WithSummary("A run's trace as OTLP-JSON").Produces(StatusCodes.Status200OK, contentType: "application/json");
        return runs;
    }

    /// <summary>The run's spans in tree order, each with its depth and offset from the run's start.</summary>
    internal static async Task<Results<Ok<RunTrace>, ProblemHttpResult>> GetRunTraceAsync(Guid runId, StoredTraces store, CancellationToken cancellationToken)
    {
        try
        {
            return TypedResults.Ok(await store.GetRunTraceAsync(runId, cancellationToken).ConfigureAwait(false));
        }
        catch (TraceNotFoundException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status404NotFound, title: "Trace not found");
        }
    }

    internal static async Task<IResult> ExportRunTraceAsync(Guid runId, StoredTraces store, HttpContext context, CancellationToken cancellationToken)
    {
        try
        {
            // Buffered: a missing trace must still be able to answer 404 before any byte is sent.
            using var buffer = new MemoryStream();
            await store.ExportOtlpJsonAsync(buffer, runId, cancellationToken).ConfigureAwait(false);
            return TypedResults.Bytes(buffer.ToArray(), "application/json");
        }
        catch (TraceNotFoundException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status404NotFound, title: "Trace not found");
        }
    }
}
