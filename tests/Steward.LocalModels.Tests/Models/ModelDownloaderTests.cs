using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Steward.LocalModels.Models;
using Xunit;

namespace Steward.LocalModels.Tests.Models;

public sealed class ModelDownloaderTests : IDisposable
{
    private static readonly byte[] Content = MakeContent(3 * 1024 * 1024 + 123);

    private readonly string _root = Directory.CreateTempSubdirectory("steward-models").FullName;
    private readonly HttpClient _http = new();

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static byte[] MakeContent(int length)
    {
        var bytes = new byte[length];
        new Random(42).NextBytes(bytes);
        return bytes;
    }

    private ModelDownloader Downloader(int maxAttempts = 3) =>
        new(_http, new ModelStore(_root)) { MaxAttempts = maxAttempts, RetryDelay = TimeSpan.Zero, ProgressInterval = TimeSpan.Zero };

    [Fact]
    public async Task DownloadAsync_Success_ReportsProgressAndWritesFileAndSidecar()
    {
        await using var server = await LoopbackServer.StartAsync((context, _) => LoopbackServer.ServeAsync(context, Content));
        var progress = new RecordingProgress();

        var path = await Downloader().DownloadAsync(server.Url("/m.gguf"), "tiny", expectedSha256: null, progress, TestContext.Current.CancellationToken);

        Assert.Equal(Path.Combine(_root, "tiny.gguf"), path);
        Assert.Equal(Content, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
        Assert.False(File.Exists(path + ".partial"));
        Assert.StartsWith(Sha(Content), await File.ReadAllTextAsync(path + ".sha256", TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.True(progress.Events.Count >= 2);
        Assert.All(progress.Events, e => Assert.Equal(Content.Length, e.TotalBytes));
        Assert.Equal(Content.Length, progress.Events[^1].BytesReceived);
        Assert.Equal(1.0, progress.Events[^1].Fraction);
        Assert.True(progress.Events[^1].BytesPerSecond > 0);
        Assert.Equal(progress.Events.Select(e => e.BytesReceived).Order(), progress.Events.Select(e => e.BytesReceived));
    }

    [Fact]
    public async Task DownloadAsync_ConnectionCutMidBody_ResumesWithRangeAndFileIsIdentical()
    {
        await using var server = await LoopbackServer.StartAsync((context, n) => n == 1
            ? LoopbackServer.ServeThenCutAsync(context, Content, Content.Length / 2)
            : LoopbackServer.ServeAsync(context, Content));

        var path = await Downloader().DownloadAsync(server.Url("/m.gguf"), "cut", Sha(Content), progress: null, TestContext.Current.CancellationToken);

        var ranges = server.RangeHeaders.ToArray();
        Assert.Equal(2, ranges.Length);
        Assert.Equal(string.Empty, ranges[0]);
        Assert.StartsWith("bytes=", ranges[1], StringComparison.Ordinal);
        var resumedFrom = long.Parse(ranges[1]["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(resumedFrom, 1, Content.Length / 2);
        Assert.Equal(Content, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task DownloadAsync_ResumeWithETag_SendsIfRangeAndCleansUp()
    {
        await using var server = await LoopbackServer.StartAsync((context, n) => n == 1
            ? LoopbackServer.ServeThenCutAsync(context, Content, Content.Length / 3, etag: "\"v1\"")
            : LoopbackServer.ServeAsync(context, Content, etag: "\"v1\""));

        var path = await Downloader().DownloadAsync(server.Url("/m.gguf"), "tagged", Sha(Content), progress: null, TestContext.Current.CancellationToken);

        Assert.Equal(["", "\"v1\""], server.IfRangeHeaders.ToArray());
        Assert.Equal(Content, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
        Assert.Equal(["tagged.gguf", "tagged.gguf.sha256"], Directory.EnumerateFiles(_root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task DownloadAsync_FileChangedUpstreamBetweenAttempts_StartsOverInsteadOfSplicing()
    {
        var changed = MakeContent(Content.Length);
        await using var server = await LoopbackServer.StartAsync((context, n) => n == 1
            ? LoopbackServer.ServeThenCutAsync(context, Content, Content.Length / 3, etag: "\"v1\"")
            : LoopbackServer.ServeAsync(context, changed, etag: "\"v2\""));

        var path = await Downloader().DownloadAsync(server.Url("/m.gguf"), "changed", progress: null, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(changed, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task DownloadAsync_PartialFileAndServerIgnoresRange_StartsOver()
    {
        var partial = Path.Combine(_root, "norange.gguf.partial");
        await File.WriteAllBytesAsync(partial, MakeContent(1000), TestContext.Current.CancellationToken); // wrong bytes
        await using var server = await LoopbackServer.StartAsync((context, _) => LoopbackServer.ServeAsync(context, Content, honourRange: false));

        var path = await Downloader().DownloadAsync(server.Url("/m.gguf"), "norange", Sha(Content), progress: null, TestContext.Current.CancellationToken);

        Assert.Equal(["bytes=1000-"], server.RangeHeaders.ToArray());
        Assert.Equal(Content, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task DownloadAsync_CancelledMidway_KeepsPartialAndNextCallResumes()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var release = new TaskCompletionSource();
        await using var server = await LoopbackServer.StartAsync(async (context, n) =>
        {
            if (n == 1)
            {
                // Half the file, then stall until the client gives up.
                context.Response.ContentLength = Content.Length;
                await context.Response.Body.WriteAsync(Content.AsMemory(0, Content.Length / 2), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.WhenAny(release.Task, Task.Delay(Timeout.Infinite, context.RequestAborted));
                return;
            }

            await LoopbackServer.ServeAsync(context, Content);
        });
        var progress = new RecordingProgress(e =>
        {
            if (e.BytesReceived >= Content.Length / 4)
            {
                cts.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => Downloader().DownloadAsync(server.Url("/m.gguf"), "later", Sha(Content), progress, cts.Token));
        release.TrySetResult();
        var kept = new FileInfo(Path.Combine(_root, "later.gguf.partial")).Length;
        var path = await Downloader().DownloadAsync(server.Url("/m.gguf"), "later", Sha(Content), progress: null, TestContext.Current.CancellationToken);

        Assert.True(kept > 0);
        Assert.Equal($"bytes={kept}-", server.RangeHeaders.ToArray()[1]);
        Assert.Equal(Content, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task DownloadAsync_ChecksumMismatch_DeletesFileAndNamesBothDigests()
    {
        await using var server = await LoopbackServer.StartAsync((context, _) => LoopbackServer.ServeAsync(context, Content));
        var wrong = new string('0', 64);

        var error = await Assert.ThrowsAsync<ModelChecksumException>(
            () => Downloader().DownloadAsync(server.Url("/m.gguf"), "bad", wrong, progress: null, TestContext.Current.CancellationToken));

        Assert.Equal(wrong, error.Expected);
        Assert.Equal(Sha(Content), error.Actual);
        Assert.Contains(wrong, error.Message, StringComparison.Ordinal);
        Assert.Contains(Sha(Content), error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(_root));
    }

    [Fact]
    public async Task DownloadAsync_NotFound_ThrowsNamingUrlWithoutRetrying()
    {
        await using var server = await LoopbackServer.StartAsync((context, _) =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        var url = server.Url("/missing/model.gguf");

        var error = await Assert.ThrowsAsync<ModelDownloadException>(
            () => Downloader().DownloadAsync(url, "missing", progress: null, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Equal(url, error.Url);
        Assert.Contains(url.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("404", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, server.RequestCount);
    }

    [Fact]
    public async Task DownloadAsync_ServerErrorEveryTime_GivesUpAfterMaxAttempts()
    {
        await using var server = await LoopbackServer.StartAsync((context, _) =>
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        });

        var error = await Assert.ThrowsAsync<ModelDownloadException>(
            () => Downloader(maxAttempts: 2).DownloadAsync(server.Url("/m.gguf"), "flaky", progress: null, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Equal(2, server.RequestCount);
    }

    [Fact]
    public async Task DownloadAsync_AlreadyDownloadedAndIntact_DoesNotDownloadAgain()
    {
        await using var server = await LoopbackServer.StartAsync((context, _) => LoopbackServer.ServeAsync(context, Content));
        var downloader = Downloader();
        await downloader.DownloadAsync(server.Url("/m.gguf"), "once", progress: null, cancellationToken: TestContext.Current.CancellationToken);

        await downloader.DownloadAsync(server.Url("/m.gguf"), "once", progress: null, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(1, server.RequestCount);
    }

    [Fact]
    public async Task DownloadAsync_ExistingFileFailsRecordedDigest_DownloadsAgain()
    {
        await using var server = await LoopbackServer.StartAsync((context, _) => LoopbackServer.ServeAsync(context, Content));
        var downloader = Downloader();
        var path = await downloader.DownloadAsync(server.Url("/m.gguf"), "corrupt", progress: null, cancellationToken: TestContext.Current.CancellationToken);
        await File.WriteAllBytesAsync(path, MakeContent(10), TestContext.Current.CancellationToken);

        await downloader.DownloadAsync(server.Url("/m.gguf"), "corrupt", progress: null, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(2, server.RequestCount);
        Assert.Equal(Content, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
    }

    /// <summary>Records synchronously (Progress&lt;T&gt; would post to the thread pool and race the assertions).</summary>
    private sealed class RecordingProgress(Action<DownloadProgress>? onReport = null) : IProgress<DownloadProgress>
    {
        public List<DownloadProgress> Events { get; } = [];

        public void Report(DownloadProgress value)
        {
            lock (Events)
            {
                Events.Add(value);
            }

            onReport?.Invoke(value);
        }
    }
}
