using System.Diagnostics;
using System.Net;

namespace Steward.TestSupport;

/// <summary>Waits for a web app started by a test to answer <c>/healthz</c>. Shared by every test project (linked in by Directory.Build.props).</summary>
internal static class WebAppHealth
{
    // A deadline, not a count of tries: beside the other test assemblies building and running on two cores, the app's
    // first start (JIT, migrations) once took longer than the minute that 240 tries of 250 ms allowed.
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    /// <summary>
    /// <see langword="true"/> once <paramref name="http"/>'s <c>/healthz</c> answers 200; <see langword="false"/> as soon as
    /// <paramref name="process"/> exits, or when the deadline passes.
    /// </summary>
    public static async Task<bool> WaitAsync(HttpClient http, Process process, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Deadline && !process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync("/healthz", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(250, cancellationToken);
        }

        return false;
    }
}
