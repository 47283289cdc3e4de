using Microsoft.EntityFrameworkCore;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>
/// Sessions whose title, or any question asked in them, contains a text (case-insensitive for ASCII; % and _ match
/// themselves), through the provider's text index: SQLite's FTS5 trigram table <c>search_text</c>, PostgreSQL's pg_trgm
/// indexes behind <c>ILIKE</c> (both kept by the ReportRollupTriggers migration). Without an index (a pattern under three
/// characters, or PostgreSQL without pg_trgm) the same query answers by a scan.
/// </summary>
internal static class TextSearch
{
    public static IQueryable<SessionRecord> Matching(StewardDbContext db, IQueryable<SessionRecord> sessions, string text)
    {
        var pattern = LikePattern.Contains(text);
        if (db.Database.ProviderName == "Npgsql.EntityFrameworkCore.PostgreSQL")
        {
            // The sessions whose title matches, and those of the runs whose question does, each found through its own trigram
            // index and joined once: an OR of the two made PostgreSQL test the title of every session (a quarter of a second
            // on 200,000 sessions).
            var found = db.Sessions.Where(s => EF.Functions.ILike(s.Title, pattern, "\\")).Select(s => s.Id)
                .Union(db.Runs.Where(r => EF.Functions.ILike(r.Query, pattern, "\\")).Select(r => r.SessionId));
            return sessions.Where(s => found.Contains(s.Id));
        }

        // FTS5 serves LIKE from its trigram index only without an ESCAPE clause; a text that needs escaping scans instead.
        var escaped = pattern.Contains('\\', StringComparison.Ordinal);
        var matches = db.Database.SqlQueryRaw<Guid>(
            escaped
                ? """SELECT "SessionId" AS "Value" FROM search_text WHERE "Text" LIKE {0} ESCAPE '\'"""
                : """SELECT "SessionId" AS "Value" FROM search_text WHERE "Text" LIKE {0}""",
            pattern);
        return sessions.Where(s => matches.Contains(s.Id));
    }
}
