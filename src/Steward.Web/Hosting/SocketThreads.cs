using System.Reflection;
using Steward.Web.Gateway;

namespace Steward.Web.Hosting;

/// <summary>
/// Where the gateway's requests run: on the socket threads, end to end, instead of hopping to the thread pool at every
/// socket event. A gateway request at one in flight made about six thread hops (the request's arrival, Kestrel's queue,
/// the upstream's answer, the response's flush) on a small machine where each hop is a wake of a sleeping thread; with
/// the socket completions inline and Kestrel scheduling inline, bench/Steward.Gateway.Bench measured 1.29x-1.33x the
/// requests per second at 1 in flight (every paired round in its favour) and 0.77x the CPU per request; level at 64, and
/// 0.93x at 256 (the gateway's requests go to the pool under load, see below). Work that may block
/// (a page or an /api call reading SQLite, whose async calls run synchronously) must not hold a socket thread, which
/// serves every connection of its share, so every request but the gateway's hops to the thread pool first; Blazor's
/// circuits hop already (SignalR hands their messages to the thread pool).
/// The runtime reads its switch once, from the environment, when the first socket is made: so it is set as the program
/// starts, only when Steward.Web is the program (not when a test host runs it in its own process), and never over a
/// value the operator set. <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c> turns both off.
/// </summary>
internal static class SocketThreads
{
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    private static int _gatewayInFlight;

    /// <summary>Whether this process runs socket work inline; decided by <see cref="Choose"/>.</summary>
    public static bool Inline { get; private set; }

    /// <summary>Call first thing in the program, before anything opens a socket.</summary>
    public static void Choose()
    {
        if (Assembly.GetEntryAssembly() != typeof(SocketThreads).Assembly)
        {
            return;
        }

        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 })
        {
            Environment.SetEnvironmentVariable(Variable, "1");
        }

        Inline = Environment.GetEnvironmentVariable(Variable) == "1";
    }

    /// <summary>Kestrel runs requests on its socket threads when <see cref="Inline"/>.</summary>
    public static void UseInlineScheduling(WebApplicationBuilder builder)
    {
        if (Inline)
        {
            builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        }
    }

    /// <summary>Every request but the gateway's leaves the socket thread before any of the app's code runs (and the gateway's under load).</summary>
    public static void UseThreadPoolOutsideGateway(WebApplication app)
    {
        if (!Inline)
        {
            return;
        }

        app.Use(HopOutsideGatewayAsync);
    }

    /// <summary>
    /// Continues a request on the thread pool unless it is already there, or it is the gateway's and no more of the
    /// gateway's are in flight than there are cores: past that, two socket threads each running whole requests one after
    /// another served fewer of them than the pool (at 256 in flight, 0.85x the requests per second and 1.2x the CPU per
    /// request; 0.93x with this hop), so they share the pool as they would without inline scheduling.
    /// </summary>
    internal static async Task HopOutsideGatewayAsync(HttpContext context, RequestDelegate next)
    {
        var gateway = GatewayKeys.IsGateway(context.Request);
        var inFlight = gateway ? Interlocked.Increment(ref _gatewayInFlight) : 0;
        try
        {
            if ((!gateway || inFlight > Environment.ProcessorCount) && !Thread.CurrentThread.IsThreadPoolThread)
            {
                await Task.Yield();
            }

            await next(context).ConfigureAwait(false);
        }
        finally
        {
            if (gateway)
            {
                Interlocked.Decrement(ref _gatewayInFlight);
            }
        }
    }
}
