using System.Globalization;
using System.Security.Cryptography;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Templates;

namespace Steward.LocalModels.Models;

/// <summary>
/// The local model cache: a folder of <c>{name}.gguf</c> files, each optionally with a <c>{name}.gguf.sha256</c>
/// sidecar holding its digest, and <c>{name}.gguf.partial</c> while a download is under way.
/// Default folder: the <c>STEWARD_MODELS</c> environment variable, else
/// <c>{LocalApplicationData}/steward/models</c>. Methods touch the file system on each call and keep no state,
/// so one instance may be shared; two processes pulling the same model at once are not coordinated.
/// </summary>
public sealed class ModelStore
{
    /// <summary>File extension of model files.</summary>
    public const string ModelExtension = ".gguf";

    /// <summary>Suffix of the digest sidecar next to a model file.</summary>
    public const string ChecksumSuffix = ".sha256";

    /// <summary>Suffix of an unfinished download.</summary>
    public const string PartialSuffix = ".partial";

    /// <summary>Creates a store over <paramref name="root"/>, or over the default folder when null.</summary>
    public ModelStore(string? root = null)
    {
        Root = Path.GetFullPath(string.IsNullOrWhiteSpace(root) ? DefaultRoot() : root);
    }

    /// <summary>The cache folder (created on first download, not by the constructor).</summary>
    public string Root { get; }

    /// <summary>The default cache folder: <c>STEWARD_MODELS</c>, else <c>{LocalApplicationData}/steward/models</c>.</summary>
    public static string DefaultRoot()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("STEWARD_MODELS");
        return !string.IsNullOrWhiteSpace(fromEnvironment)
            ? fromEnvironment
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "steward", "models");
    }

    /// <summary>Where a model called <paramref name="name"/> lives in the cache (whether or not it exists).</summary>
    /// <exception cref="ArgumentException">The name is empty or contains path characters.</exception>
    public string GetPath(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains('/', StringComparison.Ordinal)
            || name.Contains('\\', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a valid model name (it must be a plain file name).", nameof(name));
        }

        return Path.Combine(Root, name + ModelExtension);
    }

    /// <summary>The finished <c>.gguf</c> files in the cache, by name; an absent folder is an empty list.</summary>
    public IReadOnlyList<StoredModel> List()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        return [.. new DirectoryInfo(Root).EnumerateFiles("*" + ModelExtension)
            .Where(f => f.Name.EndsWith(ModelExtension, StringComparison.OrdinalIgnoreCase))
            .Select(f =>
            {
                var name = Path.GetFileNameWithoutExtension(f.Name);
                var known = KnownModels.Find(name) ?? KnownModels.FindByFileName(f.Name);
                return new StoredModel(name, f.FullName, f.Length, new DateTimeOffset(f.LastWriteTimeUtc, TimeSpan.Zero), known);
            })
            .OrderBy(m => m.Name, StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>Whether a model setting names a file (<c>x.gguf</c>, or anything with a folder in it) rather than a model name.</summary>
    public static bool LooksLikePath(string nameOrPath)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        return nameOrPath.EndsWith(ModelExtension, StringComparison.OrdinalIgnoreCase)
            || nameOrPath.Contains('/', StringComparison.Ordinal) || nameOrPath.Contains('\\', StringComparison.Ordinal);
    }

    /// <summary>
    /// Finds the GGUF file for <paramref name="nameOrPath"/>: an existing file path is used as is (a bare
    /// <c>x.gguf</c> is also looked for in the cache); otherwise a name is looked up as <c>{Root}/{name}.gguf</c>,
    /// then, for a known model, under its upstream file name.
    /// </summary>
    /// <exception cref="ModelNotFoundException">Nothing was found; the message lists the places tried and how to pull the model.</exception>
    public string Resolve(string nameOrPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPath);
        var searched = new List<string>();
        var looksLikePath = LooksLikePath(nameOrPath);

        if (looksLikePath)
        {
            var full = Path.GetFullPath(nameOrPath);
            searched.Add(full);
            if (File.Exists(full))
            {
                return full;
            }

            // A bare file name may also mean a file in the cache (e.g. a model copied there by hand).
            if (Path.GetFileName(nameOrPath) == nameOrPath)
            {
                var inCache = Path.Combine(Root, nameOrPath);
                searched.Add(inCache);
                if (File.Exists(inCache))
                {
                    return inCache;
                }
            }
        }

        var known = KnownModels.Find(nameOrPath);
        if (!looksLikePath || known is not null)
        {
            var cached = GetPath(known?.Name ?? nameOrPath);
            searched.Add(cached);
            if (File.Exists(cached))
            {
                return cached;
            }

            if (known is not null)
            {
                var upstream = Path.Combine(Root, known.FileName);
                searched.Add(upstream);
                if (File.Exists(upstream))
                {
                    return upstream;
                }
            }
        }

        var hint = known is not null
            ? $"Download it with `steward models pull {known.Name}` (about {known.ApproximateSizeMegabytes} MB)."
            : $"Pass the path of a .gguf file, or a known model name ({string.Join(", ", KnownModels.All.Select(m => m.Name))}) and pull it with `steward models pull <name>`.";
        throw new ModelNotFoundException(
            $"Model '{nameOrPath}' was not found (looked for {string.Join(", ", searched)}). {hint}")
        {
            RequestedModel = nameOrPath,
            SearchedPaths = searched,
        };
    }

    /// <summary>Deletes a cached model with its digest sidecar and any unfinished download.</summary>
    /// <returns>True when something was deleted.</returns>
    public bool Remove(string name)
    {
        var path = GetPath(KnownModels.Find(name)?.Name ?? name);
        var removed = false;
        foreach (var file in new[] { path, path + ChecksumSuffix, path + PartialSuffix, path + PartialSuffix + ModelDownloader.ETagSuffix })
        {
            if (File.Exists(file))
            {
                File.Delete(file);
                removed = true;
            }
        }

        return removed;
    }

    /// <summary>Reads the model's GGUF metadata (the file is memory-mapped, not loaded).</summary>
    /// <exception cref="ModelNotFoundException">The model cannot be found.</exception>
    /// <exception cref="GgufFormatException">The file is not valid GGUF.</exception>
    public ModelInfo GetInfo(string nameOrPath)
    {
        var path = Resolve(nameOrPath);
        using var file = GgufFile.Open(path);
        var arch = file.GetString("general.architecture");
        if (arch is not null && ModelConfig.SupportedArchitectures.Contains(arch))
        {
            // The same checks as loading: hyperparameters against the tensors the file really holds.
            _ = ModelConfig.FromGguf(file);
        }

        long? ArchValue(string key) => arch is null ? null : file.GetInteger($"{arch}.{key}");

        return new ModelInfo
        {
            Path = path,
            SizeBytes = new FileInfo(path).Length,
            DisplayName = file.GetString("general.name"),
            Architecture = arch,
            ParameterCount = file.Tensors.Sum(t => t.ElementCount),
            ContextLength = ArchValue("context_length"),
            EmbeddingLength = ArchValue("embedding_length"),
            LayerCount = ArchValue("block_count"),
            TensorTypes = file.Tensors
                .GroupBy(t => t.Type.ToString())
                .OrderByDescending(g => g.Count())
                .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            TokenizerModel = file.GetString("tokenizer.ggml.model"),
            PreTokenizer = file.GetString("tokenizer.ggml.pre"),
            VocabularySize = file.GetStringArray("tokenizer.ggml.tokens")?.Length ?? 0,
            ChatTemplateFamily = ChatTemplate.DetectFamily(file.GetString("tokenizer.chat_template")).ToString(),
        };
    }

    /// <summary>
    /// Checks a cached model against <paramref name="expectedSha256"/>, or else against its <c>.sha256</c> sidecar.
    /// </summary>
    /// <returns>True when the digest matches; false when there is nothing to compare with.</returns>
    /// <exception cref="ModelNotFoundException">The model cannot be found.</exception>
    /// <exception cref="ModelChecksumException">The digest differs (the file is left in place).</exception>
    public async Task<bool> VerifyAsync(string nameOrPath, string? expectedSha256 = null, CancellationToken cancellationToken = default)
    {
        var path = Resolve(nameOrPath);
        var expected = expectedSha256 ?? await ReadChecksumAsync(path, cancellationToken).ConfigureAwait(false);
        if (expected is null)
        {
            return false;
        }

        var actual = await ComputeSha256Async(path, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelChecksumException(
                $"'{path}' has SHA-256 {actual}, expected {expected.ToLowerInvariant()}: the file is corrupted or not the expected model. Remove it and pull it again.")
            {
                FilePath = path,
                Expected = expected.ToLowerInvariant(),
                Actual = actual,
            };
        }

        return true;
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static async Task<string> ComputeSha256Async(string path, CancellationToken cancellationToken = default)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (stream.ConfigureAwait(false))
        {
            var hash = await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
            return Convert.ToHexStringLower(hash);
        }
    }

    /// <summary>The digest recorded in <c>{path}.sha256</c>, or null when there is no sidecar.</summary>
    internal static async Task<string?> ReadChecksumAsync(string modelPath, CancellationToken cancellationToken)
    {
        var sidecar = modelPath + ChecksumSuffix;
        if (!File.Exists(sidecar))
        {
            return null;
        }

        // sha256sum format: "<hex>  <file name>"; only the digest matters.
        var text = await File.ReadAllTextAsync(sidecar, cancellationToken).ConfigureAwait(false);
        var digest = text.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return digest?.ToLower(CultureInfo.InvariantCulture);
    }

    internal static Task WriteChecksumAsync(string modelPath, string sha256, CancellationToken cancellationToken) =>
        File.WriteAllTextAsync(modelPath + ChecksumSuffix, $"{sha256}  {Path.GetFileName(modelPath)}\n", cancellationToken);
}
