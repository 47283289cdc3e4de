namespace Steward.LocalModels.Models;

/// <summary>
/// A chat model Steward knows how to fetch by name.
/// </summary>
/// <param name="Name">Short name used on the command line and as the cached file's name (<c>{Name}.gguf</c>).</param>
/// <param name="Description">One line for listings.</param>
/// <param name="DownloadUrl">Public Hugging Face <c>resolve/main</c> URL of the GGUF file.</param>
/// <param name="FileName">The file's name in its Hugging Face repository.</param>
/// <param name="ApproximateSizeMegabytes">Download size for display, in MB (10^6 bytes); not used for checks.</param>
/// <param name="SizeBytes">Exact size when known for certain; null otherwise.</param>
/// <param name="Sha256">Lower-case hex SHA-256 when known for certain; null means the digest is computed on first
/// download, stored beside the file as <c>{Name}.gguf.sha256</c>, and checked on later verification instead.</param>
public sealed record KnownModel(
    string Name,
    string Description,
    Uri DownloadUrl,
    string FileName,
    int ApproximateSizeMegabytes,
    long? SizeBytes = null,
    string? Sha256 = null);
