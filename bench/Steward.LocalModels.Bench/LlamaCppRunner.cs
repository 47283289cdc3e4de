using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Steward.LocalModels.Bench;

/// <summary>One measured run of one engine: speeds, the greedy ids it generated, and its process's peak memory.</summary>
internal sealed record SpeedResult(string Engine, int Threads, double PromptTokensPerSecond, double GenerationTokensPerSecond, int[] Ids, long PeakRssBytes);

/// <summary>
/// Runs one engine measurement in a child process (so peak memory is that engine's alone): bench.mjs for llama.cpp
/// (node-llama-cpp), this program's <c>run-steward</c> for Steward. Both process the same prompt as one batch, then
/// generate greedily, and report the best of their runs.
/// </summary>
internal static class EngineRunner
{
    /// <summary>Looks upwards from the build output, then from the working directory.</summary>
    public static string? FindScript()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var folder = Path.Combine(dir.FullName, "bench", "llamacpp-reference");
                if (File.Exists(Path.Combine(folder, "bench.mjs")) && Directory.Exists(Path.Combine(folder, "node_modules")))
                {
                    return Path.Combine(folder, "bench.mjs");
                }
            }
        }

        return null;
    }

    public static Task<SpeedResult> LlamaCppAsync(string script, string model, int threads, int[] prompt, int generate, CancellationToken cancellationToken) =>
        RunAsync("llama.cpp", "node", [script, model, Str(threads), string.Join(',', prompt), Str(generate)], Path.GetDirectoryName(script)!, threads, cancellationToken);

    public static Task<SpeedResult> StewardAsync(string model, int threads, int[] prompt, int generate, CancellationToken cancellationToken)
    {
        var self = Environment.ProcessPath!;
        var dll = typeof(EngineRunner).Assembly.Location;
        string[] args = ["run-steward", model, Str(threads), string.Join(',', prompt), Str(generate)];
        return Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? RunAsync("Steward", self, [dll, .. args], Environment.CurrentDirectory, threads, cancellationToken)
            : RunAsync("Steward", self, args, Environment.CurrentDirectory, threads, cancellationToken);
    }

    /// <summary>Aggregate tokens/s of one greedy generation per prompt, all at once (parallel.mjs or run-steward-parallel).</summary>
    public static async Task<double> ParallelAsync(string? script, string model, int threads, int[][] prompts, int generate, CancellationToken cancellationToken)
    {
        var ids = string.Join(';', prompts.Select(p => string.Join(',', p)));
        JsonElement root;
        if (script is not null)
        {
            root = await RunJsonAsync("llama.cpp", "node", [Path.Combine(Path.GetDirectoryName(script)!, "parallel.mjs"), model, Str(threads), Str(generate), ids], Path.GetDirectoryName(script)!, cancellationToken);
        }
        else
        {
            var self = Environment.ProcessPath!;
            string[] args = ["run-steward-parallel", model, Str(threads), Str(generate), ids];
            root = Path.GetFileNameWithoutExtension(self) == "dotnet"
                ? await RunJsonAsync("Steward", self, [typeof(EngineRunner).Assembly.Location, .. args], Environment.CurrentDirectory, cancellationToken)
                : await RunJsonAsync("Steward", self, args, Environment.CurrentDirectory, cancellationToken);
        }

        return root.GetProperty("aggregateTokensPerSecond").GetDouble();
    }

    private static async Task<SpeedResult> RunAsync(string engine, string file, string[] args, string workingDirectory, int threads, CancellationToken cancellationToken)
    {
        var root = await RunJsonAsync(engine, file, args, workingDirectory, cancellationToken);
        return new SpeedResult(
            engine,
            threads,
            root.GetProperty("promptTokensPerSecond").GetDouble(),
            root.GetProperty("generationTokensPerSecond").GetDouble(),
            [.. root.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())],
            root.GetProperty("peakRssBytes").GetInt64());
    }

    private static async Task<JsonElement> RunJsonAsync(string engine, string file, string[] args, string workingDirectory, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{engine} run failed ({process.ExitCode}): {await stderr}");
        }

        var line = output.Split('\n').Last(l => l.TrimStart().StartsWith('{'));
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.Clone();
    }

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);
}
