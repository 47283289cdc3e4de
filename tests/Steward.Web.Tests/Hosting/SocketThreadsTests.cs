using Microsoft.AspNetCore.Http;
using Steward.Web.Hosting;

namespace Steward.Web.Tests.Hosting;

/// <summary>
/// With Kestrel scheduling inline, a request starts on a socket thread (a thread of its own, not the pool's): pages and
/// /api calls, which may block on SQLite, must leave it before any of their code runs; the gateway's requests stay,
/// unless more of them are in flight than there are cores.
/// </summary>
public sealed class SocketThreadsTests
{
    [Theory]
    [InlineData("/", true)]
    [InlineData("/history", true)]
    [InlineData("/api/sessions", true)]
    [InlineData("/_blazor", true)]
    [InlineData("/v1x", true)]
    [InlineData("/v1/chat/completions", false)]
    [InlineData("/V1/responses", false)]
    [InlineData("/v1/models", false)]
    public async Task RequestStartedOnASocketThread_RunsOnThePoolUnlessItIsTheGateways(string path, bool onPool)
    {
        var (pool, moved) = await StartOnOwnThreadAsync(path);

        Assert.Equal(onPool, pool);
        Assert.Equal(onPool, moved);
    }

    [Fact]
    public async Task GatewayRequest_WithMoreInFlightThanCores_RunsOnThePool()
    {
        // Hold as many gateway requests in flight as there are cores (started on the pool: they stay there).
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = Enumerable.Range(0, Environment.ProcessorCount)
            .Select(_ => SocketThreads.HopOutsideGatewayAsync(Request(GatewayPath), _ => release.Task))
            .ToArray();
        try
        {
            Assert.Equal((true, true), await StartOnOwnThreadAsync(GatewayPath));
        }
        finally
        {
            release.SetResult();
            await Task.WhenAll(held);
        }

        // Once they are done, a gateway request stays on the thread it started on again.
        Assert.Equal((false, false), await StartOnOwnThreadAsync(GatewayPath));
    }

    private const string GatewayPath = "/v1/chat/completions";

    private static DefaultHttpContext Request(string path) => new() { Request = { Path = path } };

    /// <summary>Starts a request on a thread of its own, as a socket thread would; whether its handler ran on the pool, and on another thread.</summary>
    private static async Task<(bool Pool, bool Moved)> StartOnOwnThreadAsync(string path)
    {
        var ran = new TaskCompletionSource<(bool Pool, int Thread)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        var socket = new Thread(() =>
        {
            started = Environment.CurrentManagedThreadId;
            _ = SocketThreads.HopOutsideGatewayAsync(Request(path), _ =>
            {
                ran.TrySetResult((Thread.CurrentThread.IsThreadPoolThread, Environment.CurrentManagedThreadId));
                return Task.CompletedTask;
            });
        }) { IsBackground = true };
        socket.Start();

        var (pool, thread) = await ran.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        return (pool, thread != started);
    }
}
