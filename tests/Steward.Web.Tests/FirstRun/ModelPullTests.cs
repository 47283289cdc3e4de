using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Steward.LocalModels.Models;
using Steward.Web.FirstRun;

namespace Steward.Web.Tests.FirstRun;

public sealed class ModelPullTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "steward-pull-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Start_ServerAnswers404_LastChangeShowsStoppedWithAnError()
    {
        var pull = new ModelPull(new Clients(new HttpStatusHandler(HttpStatusCode.NotFound)), new ModelStore(_root), NullLogger<ModelPull>.Instance);
        var seen = new List<(bool Running, string? Error)>();
        var ended = new TaskCompletionSource();
        pull.Changed += () =>
        {
            lock (seen)
            {
                seen.Add((pull.IsRunning, pull.Error));
                if (pull.Error is not null)
                {
                    ended.TrySetResult();
                }
            }
        };

        pull.Start();
        await ended.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        // The page re-renders on each change: the one that carries the error must also say the download stopped,
        // or the button stays on "Downloading…" until a reload.
        lock (seen)
        {
            Assert.True(seen[0].Running);
            var last = seen[^1];
            Assert.False(last.Running);
            Assert.NotNull(last.Error);
        }

        Assert.False(pull.IsRunning);
    }

    [Fact]
    public async Task Start_AfterAFailure_StartsAgain()
    {
        var handler = new HttpStatusHandler(HttpStatusCode.NotFound);
        var pull = new ModelPull(new Clients(handler), new ModelStore(_root), NullLogger<ModelPull>.Instance);
        var failures = 0;
        var twice = new TaskCompletionSource();
        pull.Changed += () =>
        {
            if (!pull.IsRunning && pull.Error is not null && Interlocked.Increment(ref failures) == 2)
            {
                twice.TrySetResult();
            }
        };

        pull.Start();
        await WaitUntilAsync(() => Volatile.Read(ref failures) == 1);
        pull.Start();
        await twice.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Equal(2, handler.Requests);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    private sealed class HttpStatusHandler(HttpStatusCode status) : HttpMessageHandler
    {
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            return Task.FromResult(new HttpResponseMessage(status) { RequestMessage = request });
        }
    }

    private sealed class Clients(HttpMessageHandler handler) : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new(handler, disposeHandler: false);
    }
}
