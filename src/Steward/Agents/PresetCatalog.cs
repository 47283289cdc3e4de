using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Steward.Agents;

/// <summary>
/// The agent presets in the presets folder. Every lookup checks the file's timestamp and size (a stat, microseconds),
/// so an edited file is picked up on the next request without a restart or a file watcher (watchers miss events
/// on network and container file systems). An edit that breaks the file is logged and the last good version stays
/// in use, so a typo never takes a running agent down. Thread-safe.
/// </summary>
public sealed partial class PresetCatalog
{
    private readonly ConcurrentDictionary<string, CachedPreset> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PresetProblem> _problems = new(StringComparer.Ordinal);
    private readonly ILogger<PresetCatalog> _logger;

    public PresetCatalog(IOptions<PresetOptions> options, ILogger<PresetCatalog> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        DirectoryPath = ResolveDirectory(options.Value.Directory);
    }

    /// <summary>The folder presets are read from.</summary>
    public string DirectoryPath { get; }

    /// <summary>
    /// Reads every preset and reports all broken files together.
    /// </summary>
    /// <exception cref="PresetLoadException">The folder is missing or a file is invalid; the message lists each problem.</exception>
    public IReadOnlyList<AgentPreset> LoadAll()
    {
        if (!Directory.Exists(DirectoryPath))
        {
            throw new PresetLoadException(
                $"The presets folder '{DirectoryPath}' does not exist. Create it with at least one NAME.yaml, or set Steward:Agents:Directory.");
        }

        var problems = new List<PresetLoadException>();
        var presets = new List<AgentPreset>();
        foreach (var file in PresetFiles())
        {
            try
            {
                presets.Add(Load(file, throwOnError: true)!);
            }
            catch (PresetLoadException ex)
            {
                problems.Add(ex);
            }
        }

        if (problems.Count == 1)
        {
            throw problems[0];
        }

        if (problems.Count > 1)
        {
            throw new PresetLoadException(
                $"{problems.Count} preset files are invalid:{Environment.NewLine}" +
                string.Join(Environment.NewLine, problems.Select(p => "  " + p.Message)));
        }

        return presets.OrderBy(p => p.Name, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The current presets; broken files keep their last good version and are otherwise left out.</summary>
    public IReadOnlyList<AgentPreset> List()
    {
        var files = PresetFiles().ToArray();
        foreach (var name in _cache.Keys.Except(files.Select(f => Path.GetFileNameWithoutExtension(f))))
        {
            _cache.TryRemove(name, out _);
        }

        return files.Select(f => Load(f, throwOnError: false)).OfType<AgentPreset>()
            .OrderBy(p => p.Name, StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// The preset files that are invalid right now, read afresh: each says whether an earlier good version is still in
    /// use (an edit that broke a running preset) or the preset is left out. Empty when every file is valid.
    /// </summary>
    public IReadOnlyList<PresetProblem> Problems()
    {
        var present = List().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var files = PresetFiles().Select(f => Path.GetFileNameWithoutExtension(f)).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _problems.Keys.Where(k => !files.Contains(k)))
        {
            _problems.TryRemove(gone, out _);
        }

        return _problems.Values.Where(p => files.Contains(p.Name))
            .Select(p => p with { KeepsEarlierVersion = present.Contains(p.Name) })
            .OrderBy(p => p.Name, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The current version of one preset.</summary>
    /// <exception cref="PresetNotFoundException">No such preset.</exception>
    /// <exception cref="PresetLoadException">The file is invalid and no earlier good version was seen.</exception>
    public AgentPreset Get(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var path = Path.Combine(DirectoryPath, name + ".yaml");
        if (name.IndexOfAny(['/', '\\', '.']) >= 0 || !File.Exists(path))
        {
            _cache.TryRemove(name, out _);
            throw new PresetNotFoundException(name, PresetFiles().Select(f => Path.GetFileNameWithoutExtension(f)));
        }

        return Load(path, throwOnError: true)!;
    }

    private IEnumerable<string> PresetFiles() =>
        Directory.Exists(DirectoryPath)
            ? Directory.EnumerateFiles(DirectoryPath, "*.yaml").Order(StringComparer.Ordinal)
            : [];

    private AgentPreset? Load(string path, bool throwOnError)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        var info = new FileInfo(path);
        var stamp = (info.LastWriteTimeUtc, info.Length);
        if (_cache.TryGetValue(name, out var cached) && cached.Stamp == stamp)
        {
            return cached.Preset;
        }

        try
        {
            var preset = PresetFileParser.Parse(path, File.ReadAllText(path));
            _cache[name] = new CachedPreset(preset, stamp);
            _problems.TryRemove(name, out _);
            if (cached is not null)
            {
                LogPresetReloaded(name, preset.Version);
            }

            return preset;
        }
        catch (Exception ex) when (ex is PresetLoadException or IOException)
        {
            var error = ex as PresetLoadException ?? new PresetLoadException($"{path}: cannot be read: {ex.Message}", ex) { FilePath = path };
            _problems[name] = new PresetProblem(name, path, error.Message, cached is not null);
            if (cached is not null)
            {
                LogPresetEditRejected(name, error.Message);
                return cached.Preset;
            }

            if (throwOnError)
            {
                throw error;
            }

            LogPresetSkipped(name, error.Message);
            return null;
        }
    }

    internal static string ResolveDirectory(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }

        var local = Path.GetFullPath("agents");
        if (Directory.Exists(local))
        {
            return local;
        }

        // Running from a build output inside the repository: prefer the repository's folder, so edits to the files
        // people see are the ones that take effect.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "agents");
            if (File.Exists(Path.Combine(dir.FullName, "Steward.slnx")) && Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return Path.Combine(AppContext.BaseDirectory, "agents");
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Preset {Name} reloaded (version {Version}).")]
    private partial void LogPresetReloaded(string name, string version);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Preset {Name} was edited but the new file is invalid; keeping the previous version. {Problem}")]
    private partial void LogPresetEditRejected(string name, string problem);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error, Message = "Preset {Name} is invalid and is left out. {Problem}")]
    private partial void LogPresetSkipped(string name, string problem);

    private sealed record CachedPreset(AgentPreset Preset, (DateTime, long) Stamp);
}

/// <summary>A preset file that is invalid right now.</summary>
/// <param name="Name">The preset's name (its file name).</param>
/// <param name="FilePath">The file.</param>
/// <param name="Message">What is wrong, naming the file, line and field.</param>
/// <param name="KeepsEarlierVersion">An earlier good version is still in use (a live edit broke it); otherwise the preset is left out.</param>
public sealed record PresetProblem(string Name, string FilePath, string Message, bool KeepsEarlierVersion);
