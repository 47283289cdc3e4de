using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Bench;

/// <summary>llama.cpp's greedy ids and first-step logits for a file (bench/llamacpp-reference/reference.mjs).</summary>
internal sealed record ReferenceRun(int[] Ids, float[] Logits);

/// <summary>Compares the engine with llama.cpp on one file: the first step's logits and greedy agreement.</summary>
internal static class ReferenceCheck
{
    public static async Task<ReferenceRun> RunLlamaCppAsync(string script, string model, int threads, int[] prompt, int steps, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = Path.GetDirectoryName(script)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(Path.GetDirectoryName(script)!, "reference.mjs"));
        psi.ArgumentList.Add(model);
        psi.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(string.Join(',', prompt));
        psi.ArgumentList.Add(steps.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add("--full-logits");
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start node.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"llama.cpp reference failed ({process.ExitCode}): {await stderr}");
        }

        var line = output.Split('\n').Last(l => l.TrimStart().StartsWith('{'));
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        return new ReferenceRun(
            [.. root.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())],
            [.. root.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle())]);
    }

    public static (int[] Ids, float[] Logits) RunSteward(string model, int threads, int[] prompt, int steps, bool simd = true)
    {
        using var file = GgufFile.Open(model);
        using var transformer = new TransformerModel(file, new EngineOptions { Threads = threads, ContextLength = Math.Max(256, prompt.Length + steps + 16), UseSimd = simd });
        var logits = transformer.Forward(prompt, 0).ToArray();
        var first = logits;
        var ids = new List<int>();
        var pos = prompt.Length;
        while (true)
        {
            var best = 0;
            for (var t = 1; t < logits.Length; t++)
            {
                if (logits[t] > logits[best])
                {
                    best = t;
                }
            }

            ids.Add(best);
            if (ids.Count == steps)
            {
                break;
            }

            logits = transformer.Forward([best], pos++).ToArray();
        }

        return ([.. ids], first);
    }

    public static async Task<int> RunAsync(string script, string model, int threads, int[] prompt, int steps)
    {
        var reference = await RunLlamaCppAsync(script, model, threads, prompt, steps, CancellationToken.None);
        var (ids, logits) = RunSteward(model, threads, prompt, steps);
        var maxDiff = 0f;
        var exact = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            var d = MathF.Abs(logits[i] - reference.Logits[i]);
            maxDiff = MathF.Max(maxDiff, d);
            exact += logits[i] == reference.Logits[i] ? 1 : 0;
        }

        var agree = ids.Zip(reference.Ids).TakeWhile(p => p.First == p.Second).Count();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(model)} threads={threads}: first-step logits max |diff| {maxDiff:G4}, {exact}/{logits.Length} bit-identical; greedy agreement {agree}/{steps}"));
        if (agree < steps)
        {
            Console.WriteLine($"  steward  {string.Join(',', ids)}");
            Console.WriteLine($"  llama.cpp {string.Join(',', reference.Ids)}");
        }

        return agree;
    }
}
