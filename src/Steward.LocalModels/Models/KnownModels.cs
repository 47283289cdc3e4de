namespace Steward.LocalModels.Models;

/// <summary>
/// The small catalog of instruction-tuned models Steward can pull by name. All are public (no Hugging Face
/// login) GGUF files. Their SHA-256 digests are not pinned here: they could not be verified when the catalog was
/// written, so the first download records the digest it computed (see <see cref="KnownModel.Sha256"/>).
/// </summary>
public static class KnownModels
{
    /// <summary>Every known model, smallest first.</summary>
    public static IReadOnlyList<KnownModel> All { get; } =
    [
        new(
            "smollm2-135m",
            "SmolLM2 135M Instruct (Hugging Face), Q8_0 — tiny, fast, for smoke tests",
            new Uri("https://huggingface.co/bartowski/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct-Q8_0.gguf"),
            "SmolLM2-135M-Instruct-Q8_0.gguf",
            145),
        new(
            "smollm2-360m",
            "SmolLM2 360M Instruct (Hugging Face), Q8_0 — the default local model",
            new Uri("https://huggingface.co/bartowski/SmolLM2-360M-Instruct-GGUF/resolve/main/SmolLM2-360M-Instruct-Q8_0.gguf"),
            "SmolLM2-360M-Instruct-Q8_0.gguf",
            386),
        new(
            "qwen2.5-0.5b",
            "Qwen2.5 0.5B Instruct (Alibaba), Q4_K_M",
            new Uri("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf"),
            "qwen2.5-0.5b-instruct-q4_k_m.gguf",
            491),
        new(
            "tinyllama-1.1b",
            "TinyLlama 1.1B Chat v1.0, Q4_K_M",
            new Uri("https://huggingface.co/TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF/resolve/main/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf"),
            "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf",
            669),
        new(
            "llama3.2-1b",
            "Llama 3.2 1B Instruct (Meta, community GGUF), Q4_K_M",
            new Uri("https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf"),
            "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
            808),
    ];

    /// <summary>The model used when nothing else is configured: <c>smollm2-360m</c>, small enough for any laptop.</summary>
    public static KnownModel Default { get; } = Find("smollm2-360m")!;

    /// <summary>The model called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static KnownModel? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The model whose upstream file name is <paramref name="fileName"/> (case-insensitive), or null.</summary>
    public static KnownModel? FindByFileName(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        return All.FirstOrDefault(m => string.Equals(m.FileName, fileName, StringComparison.OrdinalIgnoreCase));
    }
}
