using System.Diagnostics;
using System.Globalization;
using Steward.LocalModels.Bench;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Engine.Generation;
using Steward.LocalModels.Gguf;

// Steward engine vs llama.cpp on a SmolLM2-135M-shaped random model, Q8_0 and F16, 1 and 2 threads.
// Usage: dotnet run -c Release --project bench/Steward.LocalModels.Bench [-- --prompt 128 --generate 64 --threads 1,2 --types q8_0,f16 --rounds 3 --no-llamacpp]
if (args.Length > 0 && args[0] == "record-fixtures")
{
    var recordScript = LlamaCppRunner.FindScript() ?? throw new InvalidOperationException("bench/llamacpp-reference/node_modules not found: run `npm install` there.");
    var repo = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(recordScript)!, "..", ".."));
    await FixtureRecorder.RunAsync(recordScript, Path.Combine(repo, "tests", "Steward.LocalModels.Tests", "Engine", "LlamaCppReferences.json"), CancellationToken.None);
    return;
}

if (args.Length > 2 && args[0] == "check-shape")
{
    // check-shape NAME MIX [--layers N] [--vocab N] [--threads 1,2] [--steps N]: a random-weight file of a real shape.
    var shapeScript = LlamaCppRunner.FindScript() ?? throw new InvalidOperationException("bench/llamacpp-reference/node_modules not found: run `npm install` there.");
    var shape = ModelShape.All.Single(s => s.Name == args[1]);
    if (args.Contains("--layers") || args.Contains("--vocab"))
    {
        shape = shape.Reduced(IntArg("--layers", shape.Layers), IntArg("--vocab", shape.Vocab));
    }

    var mix = Enum.Parse<WeightMix>(args[2], ignoreCase: true);
    var file = ShapedModelWriter.Ensure(Path.Combine(Path.GetTempPath(), "steward-bench-models"), shape, mix);
    var shapeIds = StringArg("--ids", "1,300,301,302,305,310,320,330,340").Split(',').Select(int.Parse).ToArray();
    foreach (var t in StringArg("--threads", "1").Split(',').Select(int.Parse))
    {
        await ReferenceCheck.RunAsync(shapeScript, file, t, shapeIds, IntArg("--steps", 32));
    }

    return;
}

if (args.Length > 1 && args[0] == "check")
{
    // check MODEL.gguf [--threads N] [--steps N] [--ids 1,2,3]: the engine against llama.cpp on one file.
    var checkScript = LlamaCppRunner.FindScript() ?? throw new InvalidOperationException("bench/llamacpp-reference/node_modules not found: run `npm install` there.");
    var ids = StringArg("--ids", "1,403,407,261,378").Split(',').Select(int.Parse).ToArray();
    foreach (var t in StringArg("--threads", "1").Split(',').Select(int.Parse))
    {
        await ReferenceCheck.RunAsync(checkScript, Path.GetFullPath(args[1]), t, ids, IntArg("--steps", 32));
    }

    return;
}

var promptLength = IntArg("--prompt", 128);
var generate = IntArg("--generate", 64);
var threadCounts = StringArg("--threads", "1,2").Split(',').Select(int.Parse).ToArray();
var types = StringArg("--types", "q8_0,f16").Split(',').Select(t => Enum.Parse<GgmlType>(t, ignoreCase: true)).ToArray();
var rounds = IntArg("--rounds", 3);
var skipLlamaCpp = args.Contains("--no-llamacpp");
var folder = Path.Combine(Path.GetTempPath(), "steward-bench-models");

var script = skipLlamaCpp ? null : LlamaCppRunner.FindScript();
if (!skipLlamaCpp && script is null)
{
    Console.WriteLine("bench/llamacpp-reference/node_modules not found: run `npm install` there (NODE_LLAMA_CPP_SKIP_DOWNLOAD=true); measuring Steward only.");
}

var rng = new Random(42);
var prompt = Enumerable.Range(0, promptLength).Select(i => i == 0 ? 1 : rng.Next(259, ModelShape.SmolLM2_135M.Vocab)).ToArray();
var rows = new List<(GgmlType Type, SpeedResult Steward, SpeedResult? Llama)>();
foreach (var type in types)
{
    var sw = Stopwatch.StartNew();
    var path = ShapedModelWriter.Ensure(folder, ModelShape.SmolLM2_135M, type == GgmlType.F16 ? WeightMix.F16 : WeightMix.Q8_0);
    Console.WriteLine($"model {path} ({new FileInfo(path).Length / 1e6:F0} MB, ready in {sw.Elapsed.TotalSeconds:F1} s)");
    if (type == GgmlType.Q8_0)
    {
        foreach (var threads in threadCounts.Where(t => t > 1))
        {
            DispatchBenchmark.Run(path, threads);
        }
    }

    foreach (var threads in threadCounts)
    {
        // Alternate the engines and keep each one's best round: the machine is shared, and a burst of other work
        // should not land on one engine only.
        SpeedResult? steward = null, llama = null;
        for (var round = 0; round < rounds; round++)
        {
            steward = Best(steward, RunSteward(path, threads, prompt, generate));
            llama = script is null ? null : Best(llama, await LlamaCppRunner.RunAsync(script, path, threads, prompt, generate, CancellationToken.None));
            Print(type, steward, llama);
        }

        rows.Add((type, steward!, llama));
    }
}

Console.WriteLine();
Console.WriteLine($"SmolLM2-135M-shaped random model, prompt {promptLength} tokens, generation {generate} tokens (tokens/s, best of {rounds} rounds x 2 runs, engines alternated)");
Console.WriteLine("type  thr | Steward pp   llama pp  ratio | Steward tg   llama tg  ratio | same greedy ids");
foreach (var (type, s, l) in rows)
{
    var agree = l is null ? "-" : s.Ids.Zip(l.Ids).TakeWhile(p => p.First == p.Second).Count().ToString(CultureInfo.InvariantCulture) + "/" + s.Ids.Length.ToString(CultureInfo.InvariantCulture);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{type,-5} {s.Threads,3} | {s.PromptTokensPerSecond,10:F1} {l?.PromptTokensPerSecond ?? double.NaN,10:F1} {s.PromptTokensPerSecond / (l?.PromptTokensPerSecond ?? double.NaN),5:F2}x | {s.GenerationTokensPerSecond,10:F1} {l?.GenerationTokensPerSecond ?? double.NaN,10:F1} {s.GenerationTokensPerSecond / (l?.GenerationTokensPerSecond ?? double.NaN),5:F2}x | {agree}"));
}

Console.WriteLine("pp = prompt processing, tg = generation. 'same greedy ids' counts leading tokens equal to llama.cpp's; with random");
Console.WriteLine("weights a 30-layer network amplifies rounding differences (Q8 activation rounding especially), so agreement there is");
Console.WriteLine("informative only; exactness is tested on real weights (stories260K) in the unit tests.");

static SpeedResult Best(SpeedResult? a, SpeedResult b) => a is null ? b : a with
{
    PromptTokensPerSecond = Math.Max(a.PromptTokensPerSecond, b.PromptTokensPerSecond),
    GenerationTokensPerSecond = Math.Max(a.GenerationTokensPerSecond, b.GenerationTokensPerSecond),
};

static void Print(GgmlType type, SpeedResult s, SpeedResult? l) =>
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  {type} threads={s.Threads}: Steward pp {s.PromptTokensPerSecond:F1} tg {s.GenerationTokensPerSecond:F1}; llama.cpp pp {l?.PromptTokensPerSecond:F1} tg {l?.GenerationTokensPerSecond:F1}"));

static SpeedResult RunSteward(string path, int threads, int[] prompt, int generate)
{
    using var file = GgufFile.Open(path);
    using var model = new TransformerModel(file, new EngineOptions { Threads = threads, ContextLength = Math.Max(512, prompt.Length + generate + 16), BatchSize = 128 });
    var generator = new TokenGenerator(model);
    _ = model.Forward(prompt, 0); // warm-up: page in the weights, JIT the kernels
    double pp = 0, tg = 0;
    int[] ids = [];
    for (var run = 0; run < 2; run++)
    {
        var sw = Stopwatch.StartNew();
        _ = model.Forward(prompt, 0);
        pp = Math.Max(pp, prompt.Length / sw.Elapsed.TotalSeconds);

        generator.Reset();
        var result = new GenerationResult();
        var list = new List<int>();
        long first = 0;
        foreach (var id in generator.Generate(prompt, new GenerationOptions { MaxTokens = generate + 1 }, result))
        {
            list.Add(id);
            if (list.Count == 1)
            {
                first = Stopwatch.GetTimestamp();
            }
        }

        var speed = (list.Count - 1) / Stopwatch.GetElapsedTime(first).TotalSeconds;
        if (speed > tg)
        {
            tg = speed;
            ids = [.. list.Take(generate)];
        }
    }

    return new SpeedResult("Steward", threads, pp, tg, ids);
}

int IntArg(string name, int fallback) => int.Parse(StringArg(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

string StringArg(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
