using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Sessions;

namespace Steward.Web.Api;

/// <summary>
/// <c>GET /api/runs/export?format=jsonl|csv|parquet&amp;agent=…&amp;from=…&amp;to=…</c>: the runs the History filter selects,
/// with their model calls and scores, as a download. JSONL and CSV are streamed as they are read; Parquet, whose footer
/// needs a seekable stream, is written to a temporary file first.
/// </summary>
internal static class RunExportEndpoints
{
    internal static async Task<Results<EmptyHttpResult, FileStreamHttpResult, ProblemHttpResult>> ExportAsync(
        HttpContext context, RunExporter exporter, string? format, string? agent, string? from, string? to, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!Enum.TryParse<RunExportFormat>(format ?? "jsonl", ignoreCase: true, out var kind) || !Enum.IsDefined(kind) || int.TryParse(format, out _))
        {
            throw ApiProblem.Invalid("format", $"'{format}' is not one of jsonl, csv, parquet.");
        }

        var (start, end) = ApiQuery.Range(from, to);

        var filter = new RunExportFilter { Agent = string.IsNullOrWhiteSpace(agent) ? null : agent, From = start, To = end };
        var name = $"steward-runs.{kind.ToString().ToLowerInvariant()}";
        if (kind == RunExportFormat.Parquet)
        {
            var temp = new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose);
            await exporter.ExportAsync(filter, kind, temp, cancellationToken).ConfigureAwait(false);
            temp.Position = 0;
            return TypedResults.File(temp, "application/vnd.apache.parquet", name);
        }

        context.Response.ContentType = kind == RunExportFormat.Csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{name}\"";
        await exporter.ExportAsync(filter, kind, context.Response.Body, cancellationToken).ConfigureAwait(false);
        return TypedResults.Empty;
    }
}
