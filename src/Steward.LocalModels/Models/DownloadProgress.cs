namespace Steward.LocalModels.Models;

/// <summary>Progress of one model download.</summary>
/// <param name="BytesReceived">Bytes on disk so far, including any resumed part.</param>
/// <param name="TotalBytes">Full size of the file when the server reports it.</param>
/// <param name="BytesPerSecond">Average speed of the current transfer (resumed bytes excluded).</param>
public readonly record struct DownloadProgress(long BytesReceived, long? TotalBytes, double BytesPerSecond)
{
    /// <summary>Fraction done in [0, 1], or null when the total is unknown.</summary>
    public double? Fraction => TotalBytes is > 0 and var total ? Math.Min(1.0, (double)BytesReceived / total) : null;
}
