using Microsoft.EntityFrameworkCore;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>What kind of stored thing an id names.</summary>
public enum IdKind
{
    /// <summary>A session (a conversation).</summary>
    Session,

    /// <summary>A run (one answer).</summary>
    Run,

    /// <summary>An evaluation batch.</summary>
    Batch,
}

/// <summary>Two or more stored things start with the id prefix a person typed.</summary>
public sealed class AmbiguousIdException : ArgumentException
{
    public AmbiguousIdException(string message) : base(message) { }

    public AmbiguousIdException() { }

    public AmbiguousIdException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// Turns what a person typed (a whole id, or any prefix of one that only one stored session, run or batch starts with)
/// into the id. Ids are UUIDv7, whose first eight digits are a timestamp shared by everything made within about a
/// minute, so a fixed-length short id is not enough: any unique prefix is, and <see cref="ShortestUniqueAsync"/> says
/// how long one must be. Thread-safe: every call uses its own context.
/// </summary>
public sealed class IdLookup
{
    private const int MaxListed = 5;
    private readonly IDbContextFactory<StewardDbContext> _contexts;

    internal IdLookup(IDbContextFactory<StewardDbContext> contexts) => _contexts = contexts;

    /// <summary>The one stored id of <paramref name="kind"/> that <paramref name="text"/> is or begins.</summary>
    /// <exception cref="ArgumentException">The text is not an id or the start of one.</exception>
    /// <exception cref="AmbiguousIdException">More than one stored id starts with it (they are listed).</exception>
    /// <exception cref="SessionNotFoundException">No stored id starts with it (for runs and batches too: the message names the kind).</exception>
    public async Task<Guid> ResolveAsync(IdKind kind, string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        var typed = text.Trim();
        var noun = Noun(kind);
        if (Guid.TryParse(typed, out var whole))
        {
            return await ExistsAsync(kind, whole, cancellationToken).ConfigureAwait(false)
                ? whole
                : throw new SessionNotFoundException($"No {noun} with id {whole}. {Hint(kind)}");
        }

        if (typed.Length == 0 || typed.Length > 36 || !typed.All(c => char.IsAsciiHexDigit(c) || c == '-'))
        {
            throw new ArgumentException($"'{(typed.Length > 40 ? typed[..40] + "…" : typed)}' is not a {noun} id: give the id, or its first characters (hex digits and dashes).");
        }

        var matches = await StartingWithAsync(kind, typed, MaxListed + 1, cancellationToken).ConfigureAwait(false);
        return matches.Count switch
        {
            0 => throw new SessionNotFoundException($"No {noun} id starts with '{typed}'. {Hint(kind)}"),
            1 => matches[0],
            _ => throw new AmbiguousIdException(
                $"'{typed}' starts more than one {noun} id ({string.Join(", ", matches.Take(MaxListed))}{(matches.Count > MaxListed ? ", …" : "")}): type more of it."),
        };
    }

    /// <summary>
    /// For each id, its shortest prefix (at least <paramref name="minimum"/> characters, cut after a hex digit) that no
    /// other stored id of <paramref name="kind"/> starts with, so lists can show short ids a person can type back.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, string>> ShortestUniqueAsync(IdKind kind, IReadOnlyCollection<Guid> ids, int minimum = 8, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var result = new Dictionary<Guid, string>(ids.Count);
        foreach (var id in ids.Distinct())
        {
            var full = id.ToString();
            var length = Math.Clamp(minimum, 1, full.Length);
            while (length < full.Length)
            {
                var prefix = full[..length];
                // Two matches mean another id shares the prefix; longer prefixes are tried until only this one is left.
                if ((await StartingWithAsync(kind, prefix, 2, cancellationToken).ConfigureAwait(false)).Count <= 1)
                {
                    break;
                }

                length++;
                if (full[length - 1] == '-')
                {
                    length++;
                }
            }

            result[id] = full[..Math.Min(length, full.Length)];
        }

        return result;
    }

    private async Task<bool> ExistsAsync(IdKind kind, Guid id, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return kind switch
        {
            IdKind.Session => await db.Sessions.AnyAsync(s => s.Id == id, cancellationToken).ConfigureAwait(false),
            IdKind.Run => await db.Runs.AnyAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false),
            _ => await db.EvaluationBatches.AnyAsync(b => b.Id == id, cancellationToken).ConfigureAwait(false),
        };
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Globalization", "CA1304", Justification = "Translated to SQL upper(); no .NET culture is involved.")]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Globalization", "CA1311", Justification = "Translated to SQL upper(); no .NET culture is involved.")]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1862", Justification = "Translated to SQL; StartsWith with a comparison is not translatable.")]
    private async Task<List<Guid>> StartingWithAsync(IdKind kind, string prefix, int take, CancellationToken cancellationToken)
    {
        // Compared in upper case: SQLite keeps ids as upper-case text, PostgreSQL prints uuids in lower case.
        var upper = prefix.ToUpperInvariant();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var ids = kind switch
        {
            IdKind.Session => db.Sessions.Select(s => s.Id),
            IdKind.Run => db.Runs.Select(r => r.Id),
            _ => db.EvaluationBatches.Select(b => b.Id),
        };
        return await ids.Where(id => id.ToString().ToUpper().StartsWith(upper)).OrderBy(id => id).Take(take)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string Noun(IdKind kind) => kind switch
    {
        IdKind.Session => "session",
        IdKind.Run => "run",
        _ => "evaluation batch",
    };

    private static string Hint(IdKind kind) => kind switch
    {
        IdKind.Session => "List sessions with 'steward sessions list'.",
        IdKind.Run => "A session's runs are listed by 'steward sessions show SESSION_ID'.",
        _ => "'steward eval' prints each batch's id when it ends.",
    };
}
