namespace Steward.Tools.Corpus;

/// <summary>The local document collection. Bound from <c>Steward:Corpus</c>.</summary>
public sealed class CorpusOptions
{
    /// <summary>
    /// The corpus's SQLite file (or connection string). Default: beside the main database, named after it with
    /// <c>-corpus</c> (<c>steward-corpus.db</c>). A file of its own: indexing a folder of documents is a long write,
    /// which must not hold up the runs' own writes on the main file's single writer; the index can be rebuilt, copied
    /// or shared without the sessions; and it stays SQLite FTS5 whatever the main database is.
    /// </summary>
    public string? Database { get; set; }

    /// <summary>The largest file <c>corpus add</c> reads, in bytes. Default 50 MB.</summary>
    public long MaxDocumentBytes { get; set; } = 50L * 1024 * 1024;
}
