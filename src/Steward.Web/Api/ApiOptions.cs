using Microsoft.Extensions.Options;

namespace Steward.Web.Api;

/// <summary>Limits of Steward's own HTTP API (<c>/api</c>). Bound from <c>Steward:Api</c>; validated at start.</summary>
public sealed class ApiOptions
{
    /// <summary>The largest JSON body a request (start a run, create a key…) may send, in bytes; default 1 MiB.</summary>
    public long MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>The largest session export <c>POST /api/sessions/import</c> reads, in bytes; default 64 MiB.</summary>
    public long MaxImportBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// How long a finished run's events stay in memory for <c>GET /api/runs/{id}/events</c> to replay them; afterwards the
    /// stream sends the stored result only. Default 10 minutes.
    /// </summary>
    public TimeSpan EventRetention { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The most memory (estimated, in bytes) one run's buffered events may take; past it the run's oldest events are
    /// dropped, and a stream that had not sent them yet gets a <c>gap</c> event saying which. Default 4 MiB.
    /// </summary>
    public long EventBufferBytesPerRun { get; set; } = 4L * 1024 * 1024;

    /// <summary>
    /// The most memory (estimated, in bytes) the buffered events of all runs may take together; past it finished runs'
    /// events are dropped first (their results are stored), then the oldest events of the run adding more. Default 256 MiB.
    /// </summary>
    public long EventBufferBytes { get; set; } = 256L * 1024 * 1024;
}

/// <summary>Checks <see cref="ApiOptions"/> once, at start, listing every problem.</summary>
internal sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        var problems = new List<string>();
        if (options.MaxRequestBytes is < 1024 or > 1024L * 1024 * 1024)
        {
            problems.Add("Steward:Api:MaxRequestBytes must be between 1024 and 1073741824.");
        }

        if (options.MaxImportBytes is < 1024 or > 16L * 1024 * 1024 * 1024)
        {
            problems.Add("Steward:Api:MaxImportBytes must be between 1024 and 17179869184.");
        }

        if (options.EventRetention < TimeSpan.Zero || options.EventRetention > TimeSpan.FromDays(1))
        {
            problems.Add("Steward:Api:EventRetention must be between 00:00:00 and 1.00:00:00.");
        }

        if (options.EventBufferBytesPerRun is < 16 * 1024 or > 1024L * 1024 * 1024)
        {
            problems.Add("Steward:Api:EventBufferBytesPerRun must be between 16384 and 1073741824.");
        }

        if (options.EventBufferBytes < options.EventBufferBytesPerRun || options.EventBufferBytes > 64L * 1024 * 1024 * 1024)
        {
            problems.Add("Steward:Api:EventBufferBytes must be at least Steward:Api:EventBufferBytesPerRun and at most 68719476736.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
