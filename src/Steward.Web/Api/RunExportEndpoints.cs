using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Sessions;

namespace Steward.Web.Api;

/// <summary>
/// <c>GET /api/runs/export?format=jsonl|csv|parquet&amp;agent=…&amp;from=…&amp;to=…</c>: runs with their model calls and
/// scores, as a download; with History's filter (<c>text</c>, <c>minCost</c>, <c>maxCost</c>, <c>minQuality</c>,
/// <c>includeEvaluation</c>, <c>activeFrom</c>, <c>activeTo</c>) only the runs of the sessions History lists for it. JSONL and CSV are streamed as they are read; Parquet, whose footer
/// needs a seekable stream, is written to a temporary file first.
/// </summary>
internal static class RunExportEndpoints
{
    internal static async Task<Results<EmptyHttpResult, FileStreamHttpResult, ProblemHttpResult>> ExportAsync(
        HttpContext context, RunExporter exporter, string? format, string? agent, string? from, string? to, [AsParameters] HistoryFilter history,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!Enum.TryParse<RunExportFormat>(format ?? "jsonl", ignoreCase: true, out var kind) || !Enum.IsDefined(kind) || int.TryParse(format, out _))
        {
            throw ApiProblem.Invalid("format", $"'{format}' is not one of jsonl, csv, parquet.");
        }

        var (start, end) = ApiQuery.Range(from, to);

        if (history.Problem() is { } problem)
        {
            return TypedResults.Problem(problem, statusCode: StatusCodes.Status400BadRequest, title: "Bad filter");
        }

        var filter = new RunExportFilter { Agent = string.IsNullOrWhiteSpace(agent) ? null : agent, From = start, To = end, Sessions = history.ToSessionFilter(agent) };
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

    /// <summary>History's session filter as query parameters; none set means every session.</summary>
    internal sealed record HistoryFilter(string? Text, decimal? MinCost, decimal? MaxCost, double? MinQuality, bool? IncludeEvaluation, DateTimeOffset? ActiveFrom,
        DateTimeOffset? ActiveTo)
    {
        public string? Problem() =>
            MinCost < 0 || MaxCost < 0 ? "minCost and maxCost must not be negative."
            : MinCost > MaxCost ? "maxCost must not be below minCost."
            : MinQuality is < 0 or > 100 ? "minQuality must be between 0 and 100."
            : ActiveTo < ActiveFrom ? "activeTo must not be before activeFrom."
            : null;

        public SessionFilter? ToSessionFilter(string? agent) =>
            this is { Text: null or "", MinCost: null, MaxCost: null, MinQuality: null, IncludeEvaluation: null, ActiveFrom: null, ActiveTo: null }
                ? null
                : new SessionFilter
                {
                    Text = string.IsNullOrWhiteSpace(Text) ? null : Text, Agent = string.IsNullOrWhiteSpace(agent) ? null : agent, MinCostUsd = MinCost,
                    MaxCostUsd = MaxCost, MinQuality = MinQuality, IncludeEvaluation = IncludeEvaluation ?? false, From = ActiveFrom, To = ActiveTo,
                };
    }
}
