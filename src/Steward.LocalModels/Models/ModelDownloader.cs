using System.Net;
using System.Net.Http.Headers;

namespace Steward.LocalModels.Models;

/// <summary>
/// Downloads GGUF files into a <see cref="ModelStore"/>: streams to <c>{name}.gguf.partial</c>, resumes an
/// interrupted transfer with an HTTP <c>Range</c> request guarded by <c>If-Range</c> (or starts over when the server
/// ignores it, or the file changed upstream, and answers 200), checks the SHA-256 digest, and only then renames the file to <c>{name}.gguf</c>, so a finished name is
/// always a complete file. With a known digest a mismatch deletes the download and throws
/// <see cref="ModelChecksumException"/>; without one the computed digest is written to <c>{name}.gguf.sha256</c>
/// and later checks (<see cref="ModelStore.VerifyAsync"/>, or pulling again) compare against it.
/// Instances hold no per-download state and may be shared; the same model should not be pulled twice at once.
/// </summary>
public sealed class ModelDownloader
{
    /// <summary>Suffix (after <c>.partial</c>) of the file holding the ETag the partial download started with.</summary>
    internal const string ETagSuffix = ".etag";

    private readonly HttpClient _httpClient;
    private readonly ModelStore _store;
    private readonly TimeProvider _timeProvider;

    /// <param name="httpClient">The client to download with (its timeout applies to each request; large files need a long one).</param>
    /// <param name="store">Where models go.</param>
    /// <param name="timeProvider">Clock for speed measurements and retry delays; the system clock when null.</param>
    public ModelDownloader(HttpClient httpClient, ModelStore store, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(store);
        _httpClient = httpClient;
        _store = store;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Transfers tried per download when the connection breaks (each one resumes). Default 5.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Pause before resuming after a broken connection. Default 2 seconds.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Minimum time between progress reports (the first and last are always reported). Default 250 ms.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Downloads a known model as <c>{model.Name}.gguf</c>.</summary>
    /// <inheritdoc cref="DownloadAsync(Uri, string, string?, IProgress{DownloadProgress}?, CancellationToken)"/>
    public Task<string> DownloadAsync(KnownModel model, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        return DownloadAsync(model.DownloadUrl, model.Name, model.Sha256, progress, cancellationToken);
    }

    /// <summary>
    /// Downloads <paramref name="url"/> into the store as <c>{name}.gguf</c>. When that file already exists and
    /// its digest matches (<paramref name="expectedSha256"/>, else its sidecar), nothing is downloaded.
    /// </summary>
    /// <returns>The full path of the finished file.</returns>
    /// <exception cref="ModelDownloadException">The server answered with an error status, or the connection kept breaking.</exception>
    /// <exception cref="ModelChecksumException">The downloaded file's digest is not <paramref name="expectedSha256"/> (the file was deleted).</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the <c>.partial</c> file stays so a later call resumes.</exception>
    public async Task<string> DownloadAsync(
        Uri url,
        string name,
        string? expectedSha256 = null,
        IProgress<DownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        var target = _store.GetPath(name);
        var expected = expectedSha256?.Trim().ToLowerInvariant();
        if (File.Exists(target) && await IsIntactAsync(target, expected, cancellationToken).ConfigureAwait(false))
        {
            return target;
        }

        Directory.CreateDirectory(_store.Root);
        var partial = target + ModelStore.PartialSuffix;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await TransferAsync(url, partial, progress, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (IsTransient(ex, cancellationToken))
            {
                if (attempt >= Math.Max(1, MaxAttempts))
                {
                    throw new ModelDownloadException(
                        $"Downloading {url} failed after {attempt} attempt(s): {ex.Message} The partial file is kept; pulling again resumes it.", ex)
                    {
                        Url = url,
                        StatusCode = (ex as HttpRequestException)?.StatusCode,
                    };
                }

                await Task.Delay(RetryDelay, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
        }

        File.Delete(partial + ETagSuffix);
        var actual = await ModelStore.ComputeSha256Async(partial, cancellationToken).ConfigureAwait(false);
        if (expected is not null && !string.Equals(expected, actual, StringComparison.Ordinal))
        {
            File.Delete(partial);
            throw new ModelChecksumException(
                $"The file downloaded from {url} has SHA-256 {actual}, expected {expected}; it was deleted. The download was corrupted or the file changed upstream.")
            {
                FilePath = target,
                Expected = expected,
                Actual = actual,
            };
        }

        // Sidecar first: a crash between the two leaves a .partial, never a finished file without its digest.
        await ModelStore.WriteChecksumAsync(target, actual, cancellationToken).ConfigureAwait(false);
        File.Move(partial, target, overwrite: true);
        return target;
    }

    private static bool IsTransient(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        IOException => true,
        HttpRequestException { StatusCode: null } => true,
        HttpRequestException { StatusCode: var status } => (int)status! >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests,
        TaskCanceledException => !cancellationToken.IsCancellationRequested, // HttpClient.Timeout, not the caller
        _ => false,
    };

    private static async Task<bool> IsIntactAsync(string target, string? expected, CancellationToken cancellationToken)
    {
        var reference = expected ?? await ModelStore.ReadChecksumAsync(target, cancellationToken).ConfigureAwait(false);
        var actual = await ModelStore.ComputeSha256Async(target, cancellationToken).ConfigureAwait(false);
        if (reference is null)
        {
            // A file put there by hand: adopt it and record its digest for later checks.
            await ModelStore.WriteChecksumAsync(target, actual, cancellationToken).ConfigureAwait(false);
            return true;
        }

        return string.Equals(reference, actual, StringComparison.OrdinalIgnoreCase);
    }

    private async Task TransferAsync(Uri url, string partial, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var existing = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        var etagFile = partial + ETagSuffix;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (existing > 0)
        {
            request.Headers.Range = new RangeHeaderValue(existing, null);

            // If-Range: should the file have changed upstream since the partial began, the server sends it whole
            // (200) instead of splicing the new file's tail onto the old one's head.
            if (File.Exists(etagFile)
                && EntityTagHeaderValue.TryParse(await File.ReadAllTextAsync(etagFile, cancellationToken).ConfigureAwait(false), out var tag)
                && !tag.IsWeak)
            {
                request.Headers.IfRange = new RangeConditionHeaderValue(tag);
            }
        }

        using var response = await _httpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && existing > 0)
        {
            if (response.Content.Headers.ContentRange?.Length == existing)
            {
                return; // the previous transfer had in fact finished
            }

            File.Delete(partial);
            await TransferAsync(url, partial, progress, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!response.IsSuccessStatusCode)
        {
            var message = $"Downloading {url} failed: the server answered {(int)response.StatusCode} {response.ReasonPhrase}.";
            var error = new HttpRequestException(message, null, response.StatusCode);
            if (IsTransient(error, cancellationToken))
            {
                throw error;
            }

            throw new ModelDownloadException(message) { Url = url, StatusCode = response.StatusCode };
        }

        var resumed = response.StatusCode == HttpStatusCode.PartialContent && existing > 0;
        if (resumed && response.Content.Headers.ContentRange?.From != existing)
        {
            // A range we did not ask for: start again from scratch.
            File.Delete(partial);
            await TransferAsync(url, partial, progress, cancellationToken).ConfigureAwait(false);
            return;
        }

        var start = resumed ? existing : 0; // 200 means the server ignored Range and sends the whole file
        if (!resumed)
        {
            await RememberETagAsync(etagFile, response.Headers.ETag, cancellationToken).ConfigureAwait(false);
        }

        long? total = resumed
            ? response.Content.Headers.ContentRange?.Length
            : response.Content.Headers.ContentLength;

        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            var file = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                await CopyAsync(body, file, start, total, progress, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task RememberETagAsync(string etagFile, EntityTagHeaderValue? etag, CancellationToken cancellationToken)
    {
        if (etag is { IsWeak: false })
        {
            await File.WriteAllTextAsync(etagFile, etag.ToString(), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            File.Delete(etagFile);
        }
    }

    private async Task CopyAsync(Stream body, FileStream file, long start, long? total, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var began = _timeProvider.GetTimestamp();
        var lastReport = began;
        var received = start;
        progress?.Report(new DownloadProgress(received, total, 0));

        var buffer = new byte[1 << 16];
        int read;
        try
        {
            while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                received += read;
                if (progress is not null && _timeProvider.GetElapsedTime(lastReport) >= ProgressInterval)
                {
                    lastReport = _timeProvider.GetTimestamp();
                    progress.Report(new DownloadProgress(received, total, Speed(received - start, began)));
                }
            }
        }
        finally
        {
            // Whatever arrived is on disk before a retry measures the file to resume from.
            await file.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }

        progress?.Report(new DownloadProgress(received, total, Speed(received - start, began)));
        if (total is { } expectedLength && received != expectedLength)
        {
            throw new IOException($"The connection ended after {received} of {expectedLength} bytes.");
        }
    }

    private double Speed(long bytes, long began)
    {
        var seconds = _timeProvider.GetElapsedTime(began).TotalSeconds;
        return seconds > 0 ? bytes / seconds : 0;
    }
}
