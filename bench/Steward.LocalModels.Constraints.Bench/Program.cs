using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Steward.LocalModels.Engine.Generation.Constraints;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Tokenization;

// Cost of grammar-constrained decoding per generated token: the engine's trie walk against a naive scan that checks
// every token of the vocabulary from the same state (the baseline, measured in the same run), on the test models'
// real vocabularies and a synthetic Qwen2.5-sized one (151,936 tokens).
// Usage: dotnet run -c Release --project bench/Steward.LocalModels.Constraints.Bench [-- --models tests/models --reps 20]
var modelsFolder = StringArg("--models", Path.Combine("tests", "models"));
var reps = IntArg("--reps", 20);

const string Schema = """
    {"type": "object", "properties": {
      "name": {"type": "string"}, "age": {"type": "integer"}, "mood": {"enum": ["happy", "sad", "curious"]},
      "friends": {"type": "array", "items": {"type": "string"}}, "home": {"type": "object", "properties": {"town": {"type": "string"}}, "required": ["town"]}},
     "required": ["name", "age", "mood", "friends", "home"], "additionalProperties": false}
    """;
var grammar = JsonSchemaCompiler.Compile(JsonDocument.Parse(Schema).RootElement);
(string State, string Prefix)[] states =
[
    ("start", ""),
    ("object key", "{"),
    ("inside a string", "{\"name\": \"Ann"),
    ("inside a number", "{\"name\": \"Ann\", \"age\": 4"),
    ("after a value", "{\"name\": \"Ann\", \"age\": 42"),
    ("enum value", "{\"name\": \"Ann\", \"age\": 42, \"mood\": \""),
];

var vocabularies = new List<(string Name, TokenVocabulary Vocabulary)>();
foreach (var file in new[] { "stories260K.gguf", "llama-2-tiny-random.gguf" })
{
    var path = Path.Combine(modelsFolder, file);
    if (File.Exists(path))
    {
        using var gguf = GgufFile.Open(path);
        var tokenizer = TextTokenizer.FromGguf(gguf);
        vocabularies.Add(($"{Path.GetFileNameWithoutExtension(file)} ({tokenizer.VocabularySize:N0})", TokenVocabulary.Build(tokenizer)));
    }
}

var build = Stopwatch.StartNew();
var synthetic = TokenVocabulary.Build(SyntheticVocabulary(151_936));
Console.WriteLine($"synthetic 151,936-token vocabulary: trie built in {build.Elapsed.TotalMilliseconds:F0} ms");
vocabularies.Add(("synthetic byte-level (151,936)", synthetic));

Console.WriteLine();
Console.WriteLine($"mask time per token, microseconds (mean of {reps}); naive = every token checked from the state");
Console.WriteLine($"{"vocabulary",-32} {"state",-18} {"trie µs",10} {"naive µs",10} {"naive/trie",10} {"allowed",8}");
var noStops = new HashSet<int>();
foreach (var (name, vocabulary) in vocabularies)
{
    foreach (var (state, prefix) in states)
    {
        var constraint = new JsonTokenConstraint(grammar, vocabulary, noStops);
        foreach (var b in Encoding.UTF8.GetBytes(prefix))
        {
            constraint.Accept(vocabulary.SingleByte[b]);
        }

        var logits = new float[vocabulary.Size];
        constraint.Mask(logits, 1000); // warm-up
        var trie = Time(() =>
        {
            Array.Clear(logits);
            constraint.Mask(logits, 1000);
        });
        var allowed = logits.Count(l => !float.IsNegativeInfinity(l));
        var matcher = new JsonMatcher(grammar);
        var start = matcher.Start();
        foreach (var b in Encoding.UTF8.GetBytes(prefix))
        {
            matcher.Step(start, b);
        }

        var scratch = new JsonMatchState();
        var naiveAllowed = 0;
        var naive = Time(() =>
        {
            naiveAllowed = 0;
            foreach (var piece in vocabulary.Bytes)
            {
                start.CopyTo(scratch);
                var ok = piece.Length > 0;
                foreach (var b in piece)
                {
                    if (!matcher.Step(scratch, b))
                    {
                        ok = false;
                        break;
                    }
                }

                if (ok && matcher.MinRemaining(scratch) <= 999)
                {
                    naiveAllowed++;
                }
            }
        });
        if (naiveAllowed != allowed)
        {
            Console.WriteLine($"MISMATCH: trie allows {allowed}, naive {naiveAllowed}");
        }

        Console.WriteLine($"{name,-32} {state,-18} {trie,10:F0} {naive,10:F0} {naive / trie,10:F1} {allowed,8:N0}");
    }
}

double Time(Action action)
{
    var sw = Stopwatch.StartNew();
    for (var i = 0; i < reps; i++)
    {
        action();
    }

    return sw.Elapsed.TotalMicroseconds / reps;
}

// 256 single bytes, then pieces shaped like a byte-level BPE vocabulary: words with and without a leading space,
// punctuation runs (some with quotes and braces), digits, and multi-byte UTF-8 words.
static List<byte[]> SyntheticVocabulary(int size)
{
    var rng = new Random(7);
    var pieces = new List<byte[]>(size);
    var seen = new HashSet<string>(StringComparer.Ordinal);
    for (var b = 0; b < 256; b++)
    {
        pieces.Add([(byte)b]);
    }

    const string letters = "etaoinshrdlcumwfgypbvkjxqz";
    const string punctuation = "\"{}[],:.!?;'()-_/\\ \n\t";
    string[] unicode = ["é", "ü", "ß", "ñ", "ж", "я", "中", "文", "🙂", "→"];
    while (pieces.Count < size)
    {
        var kind = rng.Next(10);
        var text = new StringBuilder();
        if (kind < 7)
        {
            if (rng.Next(2) == 0)
            {
                text.Append(' ');
            }

            var length = 1 + rng.Next(10);
            for (var i = 0; i < length; i++)
            {
                text.Append(letters[Math.Min(letters.Length - 1, (int)(rng.NextDouble() * rng.NextDouble() * letters.Length))]);
            }
        }
        else if (kind < 8)
        {
            for (var i = 0; i < 1 + rng.Next(4); i++)
            {
                text.Append(punctuation[rng.Next(punctuation.Length)]);
            }
        }
        else if (kind < 9)
        {
            text.Append(rng.Next(1000).ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            for (var i = 0; i < 1 + rng.Next(3); i++)
            {
                text.Append(unicode[rng.Next(unicode.Length)]);
            }
        }

        if (seen.Add(text.ToString()))
        {
            pieces.Add(Encoding.UTF8.GetBytes(text.ToString()));
        }
    }

    return pieces;
}

string StringArg(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

int IntArg(string name, int fallback) => int.Parse(StringArg(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
