using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Steward.LocalModels.Bench;

internal sealed record SpeedResult(string Engine, int Threads, double PromptTokensPerSecond, double GenerationTokensPerSecond, int[] Ids);

/// <summary>Runs bench/llamacpp-reference/bench.mjs (node-llama-cpp) on the same file and token ids.</summary>
internal static class LlamaCppRunner
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

    public static async Task<SpeedResult> RunAsync(string script, string model, int threads, int[] prompt, int generate, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = Path.GetDirectoryName(script)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(model);
        psi.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(string.Join(',', prompt));
        psi.ArgumentList.Add(generate.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start node.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"llama.cpp bench failed ({process.ExitCode}): {await stderr}");
        }

        var line = output.Split('\n').Last(l => l.TrimStart().StartsWith('{'));
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        return new SpeedResult(
            "llama.cpp",
            threads,
            root.GetProperty("promptTokensPerSecond").GetDouble(),
            root.GetProperty("generationTokensPerSecond").GetDouble(),
            [.. root.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())]);
    }
}
