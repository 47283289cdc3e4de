using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Telemetry;

namespace Steward.Web.Traces;

/// <summary>The trace store over HTTP: one run's spans for a waterfall, and OTLP-JSON export.</summary>
internal static class TraceEndpoints
{
    public static IEndpointRouteBuilder MapTraceEndpoints(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/api/runs/{runId:guid}").RequireAuthorization(Steward.Web.Hosting.StewardPolicies.Viewer);
        runs.MapGet("/trace", GetRunTraceAsync);
        runs.MapGet("/trace/otlp", ExportRunTraceAsync);
        return app;
    }

    /// <summary>The run's spans in tree order, each with its depth and offset from the run's start.</summary>
    internal static async Task<Results<Ok<RunTrace>, ProblemHttpResult>> GetRunTraceAsync(Guid runId, TraceStore store, CancellationToken cancellationToken)
    {
        try
        {
            await store.FlushAsync(cancellationToken).ConfigureAwait(false);
            return TypedResults.Ok(await store.GetRunTraceAsync(runId, cancellationToken).ConfigureAwait(false));
        }
        catch (TraceNotFoundException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status404NotFound, title: "Trace not found");
        }
    }

    internal static async Task<IResult> ExportRunTraceAsync(Guid runId, TraceStore store, HttpContext context, CancellationToken cancellationToken)
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
