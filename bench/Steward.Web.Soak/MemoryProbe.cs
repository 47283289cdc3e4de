using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Steward.Web.Soak;

/// <summary>A measurement of the web process: resident memory, then a gcdump (which runs a full GC first), then resident memory again.</summary>
internal sealed record MemoryPoint(
    string Name, double ResidentMiB, double ResidentAfterGcMiB, double GcCommittedMiB, double LiveHeapMiB, IReadOnlyList<(string Type, long Bytes, long Count)> Largest);

/// <summary>
/// Reads the web process's memory from outside it: resident set size from <c>/proc</c>, the live managed heap from a
/// gcdump taken with the <c>dotnet-gcdump</c> local tool, and what the GC keeps committed after that collection from
/// <c>dotnet-counters</c> (both restored from the repository's tool manifest). Resident memory the GC does not hold is
/// native: the engine's buffers, SQLite's caches, the allocator's arenas, code.
/// </summary>
internal sealed partial class MemoryProbe(string repository, int processId, DirectoryInfo output)
{
    private int _dumps;

    public static double ResidentMiB(int processId)
    {
        var line = File.ReadLines($"/proc/{processId}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(Digits().Match(line).Value, CultureInfo.InvariantCulture) / 1024.0;
    }

    public async Task<MemoryPoint> MeasureAsync(string name)
    {
        var resident = ResidentMiB(processId);
        var file = Path.Combine(output.FullName, $"{++_dumps:00}-{Slug().Replace(name.ToLowerInvariant(), "-").Trim('-')}.gcdump");
        await ToolAsync("dotnet-gcdump", "collect", "-p", processId.ToString(CultureInfo.InvariantCulture), "-o", file);
        var report = await ToolAsync("dotnet-gcdump", "report", file);
        var afterGc = ResidentMiB(processId);
        var committed = await GcCommittedBytesAsync();

        var heap = long.Parse(HeapBytes().Match(report).Groups[1].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);
        // The report lists each type by size class ("System.Byte[] (Bytes > 10K)") with the mean size of an object and
        // the count; add the classes of each type up.
        var largest = ReportLine().Matches(report)
            .Select(m => (Type: m.Groups[3].Value.Trim(), Bytes: Number(m.Groups[1].Value) * Number(m.Groups[2].Value), Count: Number(m.Groups[2].Value)))
            .GroupBy(r => r.Type)
            .Select(g => (Type: g.Key, Bytes: g.Sum(r => r.Bytes), Count: g.Sum(r => r.Count)))
            .OrderByDescending(r => r.Bytes).Take(12).ToArray();
        var point = new MemoryPoint(name, resident, afterGc, committed / (1024.0 * 1024.0), heap / (1024.0 * 1024.0), largest);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: RSS {point.ResidentMiB:0} MiB, after a full GC {point.ResidentAfterGcMiB:0} MiB of which the GC commits {point.GcCommittedMiB:0} MiB, live managed heap {point.LiveHeapMiB:0.0} MiB ({Path.GetFileName(file)})"));
        Console.WriteLine("    resident by mapping: " + string.Join(", ", Mappings(processId).Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Kind} {m.KiB / 1024.0:0} MiB")))
            + $"; {Threads(processId)} threads");
        foreach (var (type, bytes, count) in largest)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {bytes / 1024.0,10:0} KiB {count,9:N0}  {type}"));
        }

        return point;
    }

    /// <summary>The GC's committed memory as of the last collection (the gcdump's), from the runtime's own counters.</summary>
    private async Task<long> GcCommittedBytesAsync()
    {
        var file = Path.Combine(output.FullName, "counters.json");
        await ToolAsync("dotnet-counters", "collect", "-p", processId.ToString(CultureInfo.InvariantCulture), "--counters", "System.Runtime",
            "--duration", "00:00:03", "--refresh-interval", "1", "--format", "json", "-o", file);
        var value = Committed().Matches(await File.ReadAllTextAsync(file)).LastOrDefault()?.Groups[1].Value
            ?? throw new InvalidOperationException("dotnet-counters reported no dotnet.gc.last_collection.memory.committed_size.");
        return (long)double.Parse(value, CultureInfo.InvariantCulture);
    }

    private async Task<string> ToolAsync(string tool, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = repository, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("tool");
        info.ArgumentList.Add("run");
        info.ArgumentList.Add(tool);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {args[0]} failed ({process.ExitCode}); run 'dotnet tool restore' in the repository. {await stderr}");
        }

        return await stdout;
    }

    /// <summary>Resident memory by kind of mapping, from /proc/PID/smaps: what the GC does not hold shows up here.</summary>
    internal static IEnumerable<(string Kind, long KiB)> Mappings(int processId)
    {
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        var kind = "";
        foreach (var line in File.ReadLines($"/proc/{processId}/smaps"))
        {
            if (MappingHeader().Match(line) is { Success: true } header)
            {
                var path = header.Groups[1].Value.Trim();
                kind = path.Length == 0 ? "anonymous" : path.StartsWith('[') ? path : path.EndsWith(".so", StringComparison.Ordinal) || path.Contains(".so.", StringComparison.Ordinal) ? "native libraries"
                    : path.EndsWith(".dll", StringComparison.Ordinal) ? "assemblies" : path.StartsWith("/memfd:", StringComparison.Ordinal) ? "memfd (code)" : "other files";
            }
            else if (line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                totals[kind] = totals.GetValueOrDefault(kind) + long.Parse(Digits().Match(line).Value, CultureInfo.InvariantCulture);
            }
        }

        return totals.Where(t => t.Value >= 1024).OrderByDescending(t => t.Value).Select(t => (t.Key, t.Value));
    }

    private static string Threads(int processId) =>
        Digits().Match(File.ReadLines($"/proc/{processId}/status").First(l => l.StartsWith("Threads:", StringComparison.Ordinal))).Value;

    private static long Number(string text) => long.Parse(text.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);

    [GeneratedRegex(@"""name"":\s*""dotnet\.gc\.last_collection\.memory\.committed_size[^""]*"",.*?""value"":\s*([\d.eE+]+)")]
    private static partial Regex Committed();

    [GeneratedRegex(@"\d+")]
    private static partial Regex Digits();

    // "7f0e4c000000-7f0e50000000 rw-p 00000000 00:00 0      [path]"
    [GeneratedRegex(@"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$")]
    private static partial Regex MappingHeader();

    [GeneratedRegex(@"[^a-z0-9]+")]
    private static partial Regex Slug();

    [GeneratedRegex(@"([\d,]+)\s+GC Heap bytes")]
    private static partial Regex HeapBytes();

    // "   Object Bytes     Count  Type" rows: bytes per object, count, type (without the size class and the assembly).
    [GeneratedRegex(@"^\s*([\d,]+)\s+([\d,]+)\s+(.+?)(?:\s+\(Bytes > [^)]*\))?\s+\[[^\]]+\]\s*$", RegexOptions.Multiline)]
    private static partial Regex ReportLine();
}
