using System.Globalization;
using Steward.LocalModels.Bench;

// Steward's embedded engine against llama.cpp (node-llama-cpp), on the test model and random-weight models of real shapes.
//   (default)         the speed table: dotnet run -c Release --project bench/Steward.LocalModels.Bench [-- --threads 1,2 --rounds 5
//                     --prompt 128 --generate 64 --files stories260K,smollm2-135m-q8_0,... --no-llamacpp
//                     --parallel-rounds 3 --parallel-generate 32 --no-speed --no-parallel]: the speed table, then the aggregate
//                     throughput of 1, 2 and 4 concurrent requests
//   token-cost FILE   the fastest single-token forward pass [--threads N --tokens N --prompt N (positions before)], to set
//                     against micro-all's products; at 1 thread also the median CPU time per token
//   attention         one decoded row's attention, the fastest of many runs in CPU time [--heads 9 --kv-heads 3 --dim 64 --position 160]
//   bandwidth         memory read bandwidth with 1 and 2 threads (the ceiling generation is set against)
//   sampler           one token's sampling at llama.cpp's default settings against a whole-vocabulary sort [--vocab N]
//   micro FILE TENSOR [BATCH]   one matrix, the fastest of 200 products [--threads N; --decoding: the BATCH rows as
//                     sequences decoding together, not a prompt]; a small matrix stays in cache, so this is the kernel's arithmetic
//   micro-all FILE    every matrix of a file once per pass [--threads N --batch N --prompt]: GB/s and GMAC/s of the kernels
//   check FILE        first-step logits and greedy agreement with llama.cpp on one file [--threads 1,2 --steps 32 --ids 1,2,3]
//   check-shape NAME MIX   the same on a generated model [--layers N --vocab N]
//   record-fixtures   regenerates tests/Steward.LocalModels.Tests/Engine/LlamaCppReferences.json
//   run-steward ...   one Steward measurement (the table's child process); run-steward-parallel: one concurrency measurement
var command = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "speed";
var models = Path.Combine(Path.GetTempPath(), "steward-bench-models");
var script = args.Contains("--no-llamacpp") ? null : EngineRunner.FindScript();
string Script() => script ?? throw new InvalidOperationException("bench/llamacpp-reference/node_modules not found: run `npm install` there (NODE_LLAMA_CPP_SKIP_DOWNLOAD=true).");

switch (command)
{
    case "micro-all":
        Micro.All(args[1], IntArg("--threads", 1), IntArg("--batch", 1), args.Contains("--prompt"));
        return;

    case "attention":
        AttentionCost.Run(IntArg("--heads", 9), IntArg("--kv-heads", 3), IntArg("--dim", 64), IntArg("--position", 160));
        return;

    case "bandwidth":
        foreach (var t in new[] { 1, 2 })
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{t} thr: {Bandwidth.Measure(t) / 1e9:F2} GB/s"));
        }

        return;

    case "sampler":
        SamplerCost.Run(IntArg("--vocab", 151_936));
        return;

    case "token-cost":
        TokenCost.Run(args[1], IntArg("--threads", 1), IntArg("--tokens", 32), IntArg("--prompt", 32));
        return;

    case "micro":
        Micro.Run(args[1], args[2], args.Length > 3 && !args[3].StartsWith("--", StringComparison.Ordinal) ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1, IntArg("--threads", 1), args.Contains("--decoding"));
        return;

    case "run-steward":
        StewardRun.Run(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), Ids(args[3]), int.Parse(args[4], CultureInfo.InvariantCulture));
        return;

    case "run-steward-parallel":
        ParallelRun.Run(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), [.. args[4].Split(';').Select(Ids)]);
        return;

    case "check":
        foreach (var t in Ints(StringArg("--threads", "1")))
        {
            await ReferenceCheck.RunAsync(Script(), Path.GetFullPath(args[1]), t, Ids(StringArg("--ids", "1,403,407,261,378")), IntArg("--steps", 32));
        }

        return;

    case "check-shape":
        {
            var shape = ModelShape.All.Single(s => s.Name == args[1]);
            if (args.Contains("--layers") || args.Contains("--vocab"))
            {
                shape = shape.Reduced(IntArg("--layers", shape.Layers), IntArg("--vocab", shape.Vocab));
            }

            var file = ShapedModelWriter.Ensure(models, shape, Enum.Parse<WeightMix>(args[2], ignoreCase: true));
            foreach (var t in Ints(StringArg("--threads", "1")))
            {
                await ReferenceCheck.RunAsync(Script(), file, t, Ids(StringArg("--ids", "1,300,301,302,305,310,320,330,340")), IntArg("--steps", 32));
            }

            return;
        }

    case "record-fixtures":
        {
            var repo = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Script())!, "..", ".."));
            await FixtureRecorder.RunAsync(Script(), Path.Combine(repo, "tests", "Steward.LocalModels.Tests", "Engine", "LlamaCppReferences.json"), CancellationToken.None);
            return;
        }

    default:
        {
            if (script is null)
            {
                Console.WriteLine("bench/llamacpp-reference/node_modules not found: run `npm install` there (NODE_LLAMA_CPP_SKIP_DOWNLOAD=true); measuring Steward only.");
            }

            var all = new List<BenchFile>();
            var stories = FindTestModel("stories260K.gguf");
            if (stories is not null)
            {
                all.Add(new BenchFile("stories260K", stories, 512));
            }

            foreach (var (shape, mix) in new[]
            {
                (ModelShape.SmolLM2_135M, WeightMix.Q8_0), (ModelShape.SmolLM2_135M, WeightMix.Q4_K_M),
                (ModelShape.Qwen25_05B, WeightMix.Q8_0), (ModelShape.Qwen25_05B, WeightMix.Q4_K_M),
                (ModelShape.Llama32_1B, WeightMix.Q4_K_M),
            })
            {
                var label = $"{shape.Name}-{mix.ToString().ToLowerInvariant()}";
                all.Add(new BenchFile(label, Path.Combine(models, label + ".gguf"), shape.Vocab));
            }

            var wanted = StringArg("--files", "");
            var files = wanted.Length == 0 ? all : all.Where(f => wanted.Split(',').Contains(f.Label)).ToList();
            foreach (var f in files.Where(f => !File.Exists(f.Path)))
            {
                var (shape, mix) = (ModelShape.All.Single(s => f.Label.StartsWith(s.Name + "-", StringComparison.Ordinal)), Enum.Parse<WeightMix>(f.Label[(f.Label.LastIndexOf('-') + 1)..].Replace("k_m", "K_M", StringComparison.Ordinal), ignoreCase: true));
                Console.WriteLine($"writing {f.Path} ...");
                ShapedModelWriter.Ensure(models, shape, mix);
            }

            if (!args.Contains("--no-speed"))
            {
                await SpeedBenchmark.RunAsync(files, Ints(StringArg("--threads", "1,2")), IntArg("--rounds", 5), IntArg("--prompt", 128), IntArg("--generate", 64), script, CancellationToken.None);
            }

            if (!args.Contains("--no-parallel"))
            {
                await ConcurrencyBenchmark.RunAsync(files, Ints(StringArg("--threads", "1,2")), IntArg("--parallel-rounds", 3), IntArg("--parallel-generate", 32), script, CancellationToken.None);
            }

            return;
        }
}

static int[] Ids(string s) => s.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();

static int[] Ints(string s) => Ids(s);

static string? FindTestModel(string name)
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var path = Path.Combine(dir.FullName, "tests", "models", name);
        if (File.Exists(path))
        {
            return path;
        }
    }

    return null;
}

int IntArg(string name, int fallback) => int.Parse(StringArg(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

string StringArg(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
