using System.Collections.Concurrent;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Steward.Providers;

namespace Steward.Agents;

/// <summary>Usage of one live agent, for the Agents page and the CLI.</summary>
public sealed record AgentInstanceInfo(
    string Preset, string PresetVersion, string Provider, string Model, DateTimeOffset CreatedAt, DateTimeOffset? FirstUsedAt,
    DateTimeOffset? LastUsedAt, long UsageCount, int SessionsServed, int InFlight, bool Superseded);

/// <summary>
/// One <see cref="AIAgent"/> per preset version + provider + model, created on first use and shared by every session.
/// Creation happens exactly once however many callers race for it. When a preset file changes, new requests get an
/// agent for the new version; requests already running keep theirs, and the old agent is disposed when the last of
/// them finishes. Thread-safe.
/// </summary>
public sealed partial class AgentRegistry : IAsyncDisposable
{
    private readonly ConcurrentDictionary<AgentKey, Lazy<AgentEntry>> _agents = new();
    private readonly ChatClientFactory _clients;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<AgentRegistry> _logger;
    private readonly Telemetry.TelemetryOptions _telemetry;
    private int _disposed;

    public AgentRegistry(ChatClientFactory clients, TimeProvider time, ILoggerFactory loggerFactory, Microsoft.Extensions.Options.IOptions<Telemetry.TelemetryOptions>? telemetry = null)
    {
        _telemetry = telemetry?.Value ?? new Telemetry.TelemetryOptions { Enabled = false };
        _clients = clients;
        _time = time;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<AgentRegistry>();
    }

    /// <summary>How many agents have been created since start (superseded ones included).</summary>
    public long CreatedCount => Interlocked.Read(ref _createdCount);

    private long _createdCount;

    /// <summary>
    /// Gets the agent for the preset and provider (creating it on first use) and counts the use. Dispose the lease when
    /// the run ends.
    /// </summary>
    /// <exception cref="ProviderNotConfiguredException">The provider's client cannot be created.</exception>
    public AgentLease Acquire(AgentPreset preset, ResolvedProvider provider, Guid sessionId)
    {
        ArgumentNullException.ThrowIfNull(preset);
        ArgumentNullException.ThrowIfNull(provider);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        var key = new AgentKey(preset.Name, preset.Version, provider.Name, provider.Model);
        var lazy = _agents.GetOrAdd(key, k => new Lazy<AgentEntry>(() => Create(k, preset, provider), LazyThreadSafetyMode.ExecutionAndPublication));
        AgentEntry entry;
        try
        {
            entry = lazy.Value;
        }
        catch
        {
            // Lazy caches the exception; drop it so the next request (after the user fixes the setup) tries again.
            _agents.TryRemove(new KeyValuePair<AgentKey, Lazy<AgentEntry>>(key, lazy));
            throw;
        }

        entry.Use(sessionId, _time.GetUtcNow());
        return new AgentLease(entry, this);
    }

    /// <summary>Every live agent with its usage.</summary>
    public IReadOnlyList<AgentInstanceInfo> Snapshot() =>
        _agents.Values.Where(l => l.IsValueCreated).Select(l => l.Value.Describe())
            .Concat(_retired.Keys.Select(e => e.Describe()))
            .OrderBy(i => i.Preset, StringComparer.Ordinal).ThenBy(i => i.CreatedAt).ToArray();

    private readonly ConcurrentDictionary<AgentEntry, byte> _retired = new();

    private AgentEntry Create(AgentKey key, AgentPreset preset, ResolvedProvider provider)
    {
        var client = _clients.Create(provider);
        var agent = new ChatClientAgent(client, new ChatClientAgentOptions
        {
            // The id shows in invoke_agent spans: a model file is named, not located (see StewardTelemetry.ModelName).
            Id = $"{preset.Name}@{preset.Version}/{provider.Name}/{Telemetry.StewardTelemetry.ModelName(provider.Model)}",
            Name = preset.Name,
            Description = preset.Description,
            ChatOptions = new ChatOptions
            {
                // A pass-through run has none: nothing is sent in their place.
                Instructions = preset.Instructions.Length == 0 ? null : preset.Instructions,
                MaxOutputTokens = preset.MaxOutputTokens,
                Temperature = preset.Temperature,
            },
        }, _loggerFactory);
        var entry = new AgentEntry(key, Instrument(agent), client, _time.GetUtcNow());
        Interlocked.Increment(ref _createdCount);
        LogAgentCreated(preset.Name, preset.Version, provider.Name, provider.Model);

        // Older versions of this preset on the same provider and model stop taking new requests.
        foreach (var (otherKey, other) in _agents)
        {
            if (otherKey != key && otherKey.Preset == key.Preset && otherKey.Provider == key.Provider && otherKey.Model == key.Model
                && other.IsValueCreated && _agents.TryRemove(new KeyValuePair<AgentKey, Lazy<AgentEntry>>(otherKey, other)))
            {
                Retire(other.Value);
            }
        }

        return entry;
    }

    // invoke_agent spans, and through them the chat and execute_tool spans beneath; content only when the operator opts in.
    private AIAgent Instrument(AIAgent agent) => !_telemetry.Enabled
        ? agent
        : agent.AsBuilder().UseOpenTelemetry(configure: o => o.EnableSensitiveData = _telemetry.CaptureMessageContent).Build();

    private void Retire(AgentEntry entry)
    {
        entry.Superseded = true;
        _retired[entry] = 0;
        if (entry.InFlight == 0)
        {
            DisposeRetired(entry);
        }
    }

    internal void Release(AgentEntry entry)
    {
        if (entry.EndUse() == 0 && entry.Superseded)
        {
            DisposeRetired(entry);
        }
    }

    private void DisposeRetired(AgentEntry entry)
    {
        if (_retired.TryRemove(entry, out _))
        {
            entry.Client.Dispose();
        }
    }

    /// <summary>Disposes every agent's client. Further <see cref="Acquire"/> calls throw.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        foreach (var lazy in _agents.Values.Where(l => l.IsValueCreated))
        {
            lazy.Value.Client.Dispose();
        }

        foreach (var entry in _retired.Keys)
        {
            entry.Client.Dispose();
        }

        _agents.Clear();
        _retired.Clear();
        return ValueTask.CompletedTask;
    }

    /// <summary>How many agents are live (created and not superseded).</summary>
    public int Count => _agents.Values.Count(l => l.IsValueCreated);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Created agent for preset {Preset} (version {Version}) on provider {Provider}, model {Model}.")]
    private partial void LogAgentCreated(string preset, string version, string provider, string model);

    internal readonly record struct AgentKey(string Preset, string Version, string Provider, string Model);

    internal sealed class AgentEntry(AgentKey key, AIAgent agent, IChatClient client, DateTimeOffset createdAt)
    {
        private readonly ConcurrentDictionary<Guid, byte> _sessions = new();
        private readonly Lock _gate = new();
        private long _usage;
        private int _inFlight;
        private DateTimeOffset? _firstUsed;
        private DateTimeOffset? _lastUsed;

        public AIAgent Agent { get; } = agent;
        public IChatClient Client { get; } = client;
        public volatile bool Superseded;

        public int InFlight => Volatile.Read(ref _inFlight);

        public void Use(Guid sessionId, DateTimeOffset now)
        {
            Interlocked.Increment(ref _usage);
            Interlocked.Increment(ref _inFlight);
            _sessions.TryAdd(sessionId, 0);
            lock (_gate)
            {
                _firstUsed ??= now;
                _lastUsed = now;
            }
        }

        public int EndUse() => Interlocked.Decrement(ref _inFlight);

        public AgentInstanceInfo Describe()
        {
            lock (_gate)
            {
                return new AgentInstanceInfo(key.Preset, key.Version, key.Provider, key.Model, createdAt, _firstUsed, _lastUsed,
                    Interlocked.Read(ref _usage), _sessions.Count, InFlight, Superseded);
            }
        }
    }
}

/// <summary>A use of a registry agent; dispose it when the run ends.</summary>
public sealed class AgentLease : IDisposable
{
    private readonly AgentRegistry.AgentEntry _entry;
    private readonly AgentRegistry _registry;
    private int _released;

    internal AgentLease(AgentRegistry.AgentEntry entry, AgentRegistry registry)
    {
        _entry = entry;
        _registry = registry;
    }

    /// <summary>The shared agent.</summary>
    public AIAgent Agent => _entry.Agent;

    /// <summary>The agent's governed chat client, without the agent around it (for pass-through runs).</summary>
    public IChatClient Client => _entry.Client;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _registry.Release(_entry);
        }
    }
}
