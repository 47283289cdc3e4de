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
    private Task? _running;

    /// <summary>Raised on the download's thread whenever its state changes; handlers marshal to their own renderer.</summary>
    public event Action? Changed;

    public static KnownModel Model => KnownModels.Default;

    public DownloadProgress? Progress { get; private set; }

    public bool IsRunning { get { lock (_gate) { return _running is { IsCompleted: false }; } } }

    /// <summary>A message fit for the screen when the last attempt failed.</summary>
    public string? Error { get; private set; }

    public string? CompletedPath { get; private set; }

    /// <summary>Starts the download unless it is running; it goes on when the page that started it closes.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_running is { IsCompleted: false })
            {
                return;
            }

            Error = null;
            Progress = null;
            _running = Task.Run(RunAsync);
        }

        Changed?.Invoke();
    }

    private async Task RunAsync()
    {
        try
        {
            using var http = httpClients.CreateClient(HttpClientName);
            var downloader = new ModelDownloader(http, store);
            var progress = new Progress<DownloadProgress>(p =>
            {
                Progress = p;
                Changed?.Invoke();
            });
            CompletedPath = await downloader.DownloadAsync(Model, progress, CancellationToken.None).ConfigureAwait(false);
            LogPulled(Model.Name);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or ModelDownloadException or TaskCanceledException)
        {
            LogPullFailed(ex, Model.Name);
            Error = ex is ModelDownloadException ? ex.Message : $"The download of {Model.Name} failed: check the network connection and try again.";
        }
        finally
        {
            Changed?.Invoke();
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Pulled the default model {Model}.")]
    private partial void LogPulled(string model);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Pulling the default model {Model} failed.")]
    private partial void LogPullFailed(Exception exception, string model);
}
