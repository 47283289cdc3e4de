using Steward.LocalModels.Models;

namespace Steward.Web.FirstRun;

/// <summary>
/// The one download of the default embedded model this process runs, shared by every browser tab: a second click
/// joins the download already running instead of starting another, and a tab opened later sees its progress.
/// Thread-safe.
/// </summary>
internal sealed partial class ModelPull(IHttpClientFactory httpClients, ModelStore store, ILogger<ModelPull> logger)
{
    public const string HttpClientName = "steward-model-pull";

    private readonly Lock _gate = new();

    // Set and cleared under the gate by the download itself, before its last Changed: a task's own completion is only
    // visible after its finally block has run, so a page that re-rendered on that last event saw the download as still
    // running and kept "Downloading…" and a moving bar until it was reloaded.
    private bool _running;

    /// <summary>Raised on the download's thread whenever its state changes; handlers marshal to their own renderer.</summary>
    public event Action? Changed;

    public static KnownModel Model => KnownModels.Default;

    public DownloadProgress? Progress { get; private set; }

    public bool IsRunning { get { lock (_gate) { return _running; } } }

    /// <summary>A message fit for the screen when the last attempt failed.</summary>
    public string? Error { get; private set; }

    public string? CompletedPath { get; private set; }

    /// <summary>Starts the download unless it is running; it goes on when the page that started it closes.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_running)
            {
                return;
            }

            Error = null;
            Progress = null;
            _running = true;
        }

        Changed?.Invoke();
        _ = Task.Run(RunAsync);
    }

    private async Task RunAsync()
    {
        try
        {
            using var http = httpClients.CreateClient(HttpClientName);
            var downloader = new ModelDownloader(http, store);
            // Reported on the downloader's thread, not posted: a posted report could land after the failure below and
            // bring the bar back.
            var progress = new SynchronousProgress(p =>
            {
                Progress = p;
                Changed?.Invoke();
            });
            CompletedPath = await downloader.DownloadAsync(Model, progress, CancellationToken.None).ConfigureAwait(false);
            LogPulled(Model.Name);
        }
        catch (Exception ex) when (ex is ModelDownloadException or ModelChecksumException)
        {
            LogPullFailed(ex, Model.Name);
            Error = ex.Message;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            LogPullFailed(ex, Model.Name);
            Error = $"The download of {Model.Name} failed: check the network connection and try again.";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogPullFailed(ex, Model.Name);
            Error = $"The download of {Model.Name} could not be saved: check that the models folder is writable and has space, then try again.";
        }
        finally
        {
            lock (_gate)
            {
                _running = false;
            }

            Changed?.Invoke();
        }
    }

    private sealed class SynchronousProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Pulled the default model {Model}.")]
    private partial void LogPulled(string model);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Pulling the default model {Model} failed.")]
    private partial void LogPullFailed(Exception exception, string model);
}
