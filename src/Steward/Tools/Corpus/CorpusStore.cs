using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Steward.Storage;

namespace Steward.Tools.Corpus;

/// <summary>A document in the corpus, as listed.</summary>
public sealed record CorpusEntry(long Id, string Source, string Url, string Title, string Kind, DateTimeOffset AddedAt, long Characters, int Passages);

/// <summary>What <see cref="CorpusStore.AddAsync"/> did with one file.</summary>
public sealed record CorpusAddResult(string Source, string? Title, bool Added, bool Updated, string? Problem);

/// <summary>
/// The local document collection, in a SQLite file of its own, indexed with FTS5: documents cut into passages of about
/// 1,500 characters (so a match is ranked and quoted where it is, and a long document does not drown a short one),
/// porter stemming over unicode61 tokens ("growing" finds "growth"), BM25 ranking with the title weighted above the
/// body, and snippet() for the passage shown. A search returns each document once, at its best passage. Several
/// processes may share the file (SQLite's own locking, WAL). Thread-safe.
/// </summary>
public sealed class CorpusStore
{
    private const int PassageCharacters = 1_500;

    /// <summary>Results scoring under this share of the best one are left out.</summary>
    private const double RelevanceCutoff = 0.3;
    private const string Schema = """
        PRAGMA journal_mode=WAL;
        CREATE TABLE IF NOT EXISTS documents (
            id INTEGER PRIMARY KEY, source TEXT NOT NULL UNIQUE, url TEXT NOT NULL, title TEXT NOT NULL, kind TEXT NOT NULL,
            added_at TEXT NOT NULL, characters INTEGER NOT NULL, passage_count INTEGER NOT NULL, sha256 TEXT NOT NULL);
        CREATE VIRTUAL TABLE IF NOT EXISTS passages USING fts5(title, body, document_id UNINDEXED, tokenize = 'porter unicode61');
        """;

    private static readonly HashSet<string> StopWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i", "in", "is", "it", "its", "me", "of", "on", "or",
        "our", "should", "so", "than", "that", "the", "their", "there", "these", "this", "to", "was", "we", "what", "when", "where", "which", "who",
        "why", "will", "with", "you", "your", "about", "into", "over", "has", "have", "had", "been", "being", "were", "they", "them", "tell",
    };

    private readonly string _connectionString;
    private readonly long _maxBytes;
    private readonly TimeProvider _time;
    private int _ready;

    public CorpusStore(IOptions<CorpusOptions> options, IOptions<StorageOptions> storage, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(storage);
        _connectionString = storage.Value.ResolveSiblingConnectionString(options.Value.Database, "-corpus", "Steward:Corpus:Database");
        _maxBytes = options.Value.MaxDocumentBytes;
        _time = time;
    }

    /// <summary>The corpus file, for display.</summary>
    public string Location => new SqliteConnectionStringBuilder(_connectionString).DataSource;

    /// <summary>
    /// Adds files, and the .md, .txt, .html and .pdf files under folders, replacing a document added before from the same
    /// path. A file that cannot be read is reported and skipped; the others are still added.
    /// </summary>
    public async Task<IReadOnlyList<CorpusAddResult>> AddAsync(IEnumerable<string> paths, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var results = new List<CorpusAddResult>();
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                files.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => CorpusDocumentReader.Extensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal));
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
            else
            {
                results.Add(new CorpusAddResult(Path.GetFullPath(path), null, false, false, "no such file or folder"));
            }
        }

        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            CorpusDocument document;
            try
            {
                document = CorpusDocumentReader.Read(file, _maxBytes);
            }
            catch (CorpusException ex)
            {
                results.Add(new CorpusAddResult(Path.GetFullPath(file), null, false, false, ex.Message));
                continue;
            }

            var updated = await StoreAsync(document, cancellationToken).ConfigureAwait(false);
            results.Add(new CorpusAddResult(document.Source, document.Title, !updated, updated, null));
        }

        return results;
    }

    internal async Task<bool> StoreAsync(CorpusDocument document, CancellationToken cancellationToken)
    {
        var passages = Split(document.Text).ToArray();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var existing = await ScalarAsync(connection, transaction, "SELECT id FROM documents WHERE source = $source", cancellationToken, ("$source", document.Source)).ConfigureAwait(false);
        if (existing is long old)
        {
            await ExecuteAsync(connection, transaction, "DELETE FROM passages WHERE document_id = $id; DELETE FROM documents WHERE id = $id", cancellationToken, ("$id", old)).ConfigureAwait(false);
        }

        var id = (long)(await ScalarAsync(connection, transaction, """
            INSERT INTO documents (source, url, title, kind, added_at, characters, passage_count, sha256)
            VALUES ($source, $url, $title, $kind, $added, $characters, $passages, $sha) RETURNING id
            """, cancellationToken,
            ("$source", document.Source), ("$url", document.Url), ("$title", document.Title), ("$kind", document.Kind),
            ("$added", _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)), ("$characters", (long)document.Text.Length),
            ("$passages", (long)passages.Length), ("$sha", Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(document.Text))))).ConfigureAwait(false))!;
        await using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO passages (title, body, document_id) VALUES ($title, $body, $id)";
            var body = insert.Parameters.Add("$body", SqliteType.Text);
            insert.Parameters.AddWithValue("$title", document.Title);
            insert.Parameters.AddWithValue("$id", id);
            foreach (var passage in passages)
            {
                body.Value = passage;
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return existing is long;
    }

    /// <summary>Every document, oldest first.</summary>
    public async Task<IReadOnlyList<CorpusEntry>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, source, url, title, kind, added_at, characters, passage_count FROM documents ORDER BY id";
        var entries = new List<CorpusEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(new CorpusEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture), reader.GetInt64(6), reader.GetInt32(7)));
        }

        return entries;
    }

    /// <summary>Removes documents by id or by the path they were added from; returns how many were removed.</summary>
    public async Task<int> RemoveAsync(string idOrPath, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idOrPath);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var full = long.TryParse(idOrPath, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? null : Path.GetFullPath(idOrPath);
        // A folder's path removes everything added from under it.
        var where = full is null ? "id = $id" : "source = $path OR source LIKE $prefix ESCAPE '\\'";
        var prefix = full is null ? "" : full.TrimEnd(Path.DirectorySeparatorChar).Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + Path.DirectorySeparatorChar + "%";
        (string, object)[] parameters = [("$id", id), ("$path", full ?? ""), ("$prefix", prefix)];
        await ExecuteAsync(connection, transaction, $"DELETE FROM passages WHERE document_id IN (SELECT id FROM documents WHERE {where})", cancellationToken, parameters).ConfigureAwait(false);
        var removed = await ExecuteAsync(connection, transaction, $"DELETE FROM documents WHERE {where}", cancellationToken, parameters).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed;
    }

    /// <summary>The documents best matching <paramref name="query"/> (any of its words, stemmed), best first, each once.</summary>
    public async Task<IReadOnlyList<SearchResult>> SearchAsync(string query, int count, CancellationToken cancellationToken)
    {
        var match = MatchExpression(query);
        if (match is null || count < 1)
        {
            return [];
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        // bm25() is lower for better matches; the title counts four times the body. Passages come best first; each
        // document is kept once, at its best passage (snippet() cannot run under a window function, so this is done here).
        command.CommandText = """
            SELECT d.id, d.title, d.url, snippet(passages, 1, '', '', '…', 40), bm25(passages, 4.0, 1.0)
            FROM passages JOIN documents d ON d.id = passages.document_id
            WHERE passages MATCH $match
            ORDER BY bm25(passages, 4.0, 1.0)
            LIMIT $scan
            """;
        command.Parameters.AddWithValue("$match", match);
        command.Parameters.AddWithValue("$scan", Math.Max(count * 20, 200));
        var results = new List<SearchResult>();
        var seen = new HashSet<long>();
        double? best = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (results.Count < count && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // Scores are negative, best first. A document that matched only a common word of the question scores a
            // fraction of the best one: it is noise to the model, and a citation nobody should follow.
            var score = reader.GetDouble(4);
            best ??= score;
            if (score > best * RelevanceCutoff)
            {
                break;
            }

            if (seen.Add(reader.GetInt64(0)))
            {
                results.Add(new SearchResult(reader.GetString(1), reader.GetString(2), reader.GetString(3).ReplaceLineEndings(" "), WebSearchBackends.Corpus));
            }
        }

        return results;
    }

    /// <summary>
    /// The FTS5 query for free text: its words (letters and digits), stop words left out, each quoted (so no word is
    /// read as FTS5 syntax) and joined with OR, so a question finds documents with any of its words and BM25 puts those
    /// with more and rarer ones first. <see langword="null"/> when no word is left.
    /// </summary>
    internal static string? MatchExpression(string query)
    {
        var words = System.Text.RegularExpressions.Regex.Matches(query ?? "", @"[\p{L}\p{N}]+")
            .Select(m => m.Value.ToLowerInvariant())
            .Where(w => !StopWords.Contains(w) && (w.Length > 1 || char.IsDigit(w[0])))
            .Distinct(StringComparer.Ordinal)
            .Take(32)
            .ToArray();
        return words.Length == 0 ? null : string.Join(" OR ", words.Select(w => "\"" + w + "\""));
    }

    private static IEnumerable<string> Split(string text)
    {
        var paragraphs = text.ReplaceLineEndings("\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var passage = new StringBuilder();
        foreach (var paragraph in paragraphs)
        {
            if (passage.Length > 0 && passage.Length + paragraph.Length > PassageCharacters)
            {
                yield return passage.ToString();
                passage.Clear();
            }

            // A paragraph longer than a passage is cut at word boundaries.
            var rest = paragraph;
            while (rest.Length > PassageCharacters * 2)
            {
                var cut = rest.LastIndexOf(' ', PassageCharacters);
                cut = cut <= 0 ? PassageCharacters : cut;
                yield return rest[..cut];
                rest = rest[cut..].TrimStart();
            }

            passage.Append(passage.Length > 0 ? "\n\n" : "").Append(rest);
        }

        if (passage.Length > 0)
        {
            yield return passage.ToString();
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA busy_timeout=30000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (Volatile.Read(ref _ready) == 0)
        {
            await using var schema = connection.CreateCommand();
            schema.CommandText = Schema;
            await schema.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _ready, 1);
        }

        return connection;
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }
}
