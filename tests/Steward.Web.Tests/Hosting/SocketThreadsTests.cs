using Microsoft.AspNetCore.Http;
using Steward.Web.Hosting;

namespace Steward.Web.Tests.Hosting;

/// <summary>
/// With Kestrel scheduling inline, a request starts on a socket thread (a thread of its own, not the pool's): pages and
/// /api calls, which may block on SQLite, must leave it before any of their code runs; the gateway's requests stay.
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
        var ran = new TaskCompletionSource<(bool Pool, int Thread)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var context = new DefaultHttpContext();
        context.Request.Path = path;
        var socketThread = 0;
        var started = new Thread(() =>
        {
            socketThread = Environment.CurrentManagedThreadId;
            _ = SocketThreads.HopOutsideGatewayAsync(context, _ =>
            {
                ran.TrySetResult((Thread.CurrentThread.IsThreadPoolThread, Environment.CurrentManagedThreadId));
                return Task.CompletedTask;
            });
        }) { IsBackground = true };
        started.Start();

        var (pool, thread) = await ran.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(onPool, pool);
        Assert.Equal(onPool, thread != socketThread);
    }

    [Fact]
    public async Task GatewayRequest_WithMoreInFlightThanCores_RunsOnThePool()
    {
        // Hold as many gateway requests in flight as there are cores (started on the pool: they stay there).
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = Enumerable.Range(0, Environment.ProcessorCount)
            .Select(_ => SocketThreads.HopOutsideGatewayAsync(Gateway(), _ => release.Task))
            .ToArray();
        try
        {
            var ran = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var socket = new Thread(() => _ = SocketThreads.HopOutsideGatewayAsync(Gateway(), _ =>
            {
                ran.TrySetResult(Thread.CurrentThread.IsThreadPoolThread);
                return Task.CompletedTask;
            })) { IsBackground = true };
            socket.Start();

            Assert.True(await ran.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        }
        finally
        {
            release.SetResult();
            await Task.WhenAll(held);
        }

        // Once they are done, a gateway request stays on the thread it started on again.
        var alone = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var again = new Thread(() => _ = SocketThreads.HopOutsideGatewayAsync(Gateway(), _ =>
        {
            alone.TrySetResult(Thread.CurrentThread.IsThreadPoolThread);
            return Task.CompletedTask;
        })) { IsBackground = true };
        again.Start();
        Assert.False(await alone.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
    }

    private static DefaultHttpContext Gateway() => new() { Request = { Path = "/v1/chat/completions" } };
}
