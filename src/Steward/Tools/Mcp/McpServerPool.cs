using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Client;

namespace Steward.Tools.Mcp;

/// <summary>
/// The MCP servers presets list, connected once and shared by every run of the preset version (a process per run would
/// cost its start-up each time). A server that fails to start is reported by name and tried again by the next run; one
/// that stops (its process exits, its connection closes) fails the call in flight at once, with its name, instead of
/// hanging, and is started afresh for the next run. Thread-safe; disposing stops every server.
/// </summary>
public sealed partial class McpServerPool(IOptions<ToolOptions> options, ILoggerFactory loggerFactory) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<McpConnection>>> _connections = new(StringComparer.Ordinal);
    private readonly ILogger<McpServerPool> _logger = loggerFactory.CreateLogger<McpServerPool>();

    /// <summary>The server's tools, connecting first if needed.</summary>
    /// <exception cref="McpToolException">The server could not be started or listed its tools; the message names it.</exception>
    public async Task<IReadOnlyList<AIFunction>> GetToolsAsync(string owner, McpServerSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var key = owner + "/" + spec.Name;
        for (var attempt = 0; ; attempt++)
        {
            var lazy = _connections.GetOrAdd(key, _ => new Lazy<Task<McpConnection>>(() => ConnectAsync(spec), LazyThreadSafetyMode.ExecutionAndPublication));
            McpConnection connection;
            try
            {
                connection = await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _connections.TryRemove(new KeyValuePair<string, Lazy<Task<McpConnection>>>(key, lazy));
                throw ex as McpToolException ?? new McpToolException($"MCP server '{spec.Name}' could not start: {ex.Message}", ex);
            }

            if (!connection.Stopped || attempt > 0)
            {
                return connection.Tools;
            }

            // It stopped since the last run: start it again.
            _connections.TryRemove(new KeyValuePair<string, Lazy<Task<McpConnection>>>(key, lazy));
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<McpConnection> ConnectAsync(McpServerSpec spec)
    {
        var stderr = new ConcurrentQueue<string>();
        var env = spec.Env.ToDictionary(e => e.Key, e => (string?)Expand(spec.Name, "env", e.Key, e.Value));
        var headers = spec.Headers.ToDictionary(h => h.Key, h => Expand(spec.Name, "headers", h.Key, h.Value));
        IClientTransport transport = spec.Url is { } url
            ? new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = url, Name = spec.Name, TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = headers,
            }, loggerFactory)
            : new StdioClientTransport(new StdioClientTransportOptions
            {
                Command = spec.Command!, Arguments = [.. spec.Args], Name = spec.Name,
                EnvironmentVariables = env,
                StandardErrorLines = line =>
                {
                    stderr.Enqueue(line);
                    while (stderr.Count > 20 && stderr.TryDequeue(out _))
                    {
                    }
                },
            }, loggerFactory);

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(options.Value.McpStartTimeoutSeconds));
        McpClient? client = null;
        try
        {
            client = await McpClient.CreateAsync(transport, new McpClientOptions
            {
                ClientInfo = new ModelContextProtocol.Protocol.Implementation { Name = "steward", Version = "1.0" },
            }, loggerFactory, deadline.Token).ConfigureAwait(false);
            var listed = await client.ListToolsAsync(cancellationToken: deadline.Token).ConfigureAwait(false);
            var tools = listed.Where(t => spec.Tools.Count == 0 || spec.Tools.Contains(t.Name, StringComparer.Ordinal))
                .Select(t => (AIFunction)new McpServerFunction(t, spec.Name, client)).ToArray();
            LogConnected(spec.Name, tools.Length);
            return new McpConnection(client, tools);
        }
        catch (Exception ex)
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }

            var why = deadline.IsCancellationRequested
                ? $"it did not answer within {options.Value.McpStartTimeoutSeconds} s (Steward:Tools:McpStartTimeoutSeconds)"
                : FirstLine(ex.Message);
            var said = stderr.LastOrDefault(l => !string.IsNullOrWhiteSpace(l));
            LogStartFailed(spec.Name, why);
            throw new McpToolException($"MCP server '{spec.Name}' could not start: {why}" + (said is null ? "." : $" (it said: {FirstLine(said)})"), ex);
        }
    }

    /// <summary>
    /// <c>${NAME}</c> in a preset's env or headers is the process's environment variable NAME, so keys stay out of the
    /// preset file. A variable that is not set stops the server from starting, naming the variable (never a value).
    /// </summary>
    internal static string Expand(string server, string field, string key, string value) =>
        System.Text.RegularExpressions.Regex.Replace(value, @"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", m =>
            Environment.GetEnvironmentVariable(m.Groups[1].Value)
            ?? throw new McpToolException($"MCP server '{server}' could not start: its {field} '{key}' uses ${{{m.Groups[1].Value}}}, which is not set in the environment."));

    private static string FirstLine(string text)
    {
        var line = text.Split('\n', 2)[0].Trim();
        return line.Length > 200 ? line[..200] + "…" : line;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lazy in _connections.Values)
        {
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
            {
                await lazy.Value.Result.DisposeAsync().ConfigureAwait(false);
            }
        }

        _connections.Clear();
    }

    [LoggerMessage(EventId = 2401, Level = LogLevel.Information, Message = "MCP server {Server} connected with {Tools} tool(s).")]
    private partial void LogConnected(string server, int tools);

    [LoggerMessage(EventId = 2402, Level = LogLevel.Warning, Message = "MCP server {Server} could not start: {Reason}")]
    private partial void LogStartFailed(string server, string reason);

    private sealed class McpConnection(McpClient client, IReadOnlyList<AIFunction> tools) : IAsyncDisposable
    {
        public IReadOnlyList<AIFunction> Tools { get; } = tools;

        public bool Stopped => client.Completion.IsCompleted;

        public ValueTask DisposeAsync() => client.DisposeAsync();
    }
}

/// <summary>
/// One MCP tool as a function: called through its server's client, and failing at once, naming the server, when the
/// server stops while the call is in flight (its pending request would otherwise wait for the time limit).
/// </summary>
internal sealed class McpServerFunction(McpClientTool tool, string server, McpClient client) : DelegatingAIFunction(tool)
{
    public string ServerName => server;

    protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        if (client.Completion.IsCompleted)
        {
            throw new McpToolException($"MCP server '{server}' is not running (it stopped earlier); {Name} is unavailable in this run.");
        }

        var call = base.InvokeCoreAsync(arguments, cancellationToken).AsTask();
        var first = await Task.WhenAny(call, client.Completion).ConfigureAwait(false);
        if (first != call)
        {
            _ = call.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new McpToolException($"MCP server '{server}' stopped while running {Name}; the call did not complete.");
        }

        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The transport can fail the pending call a moment before the session says it ended: give it that moment.
            await Task.WhenAny(client.Completion, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            if (client.Completion.IsCompleted)
            {
                throw new McpToolException($"MCP server '{server}' stopped while running {Name}; the call did not complete.", ex);
            }

            throw;
        }
    }
}
