using Steward.Tools.Search;

namespace Steward.Tools.Corpus;

/// <summary>The corpus as a search backend: the offline default.</summary>
internal sealed class CorpusBackend(CorpusStore store) : IWebSearchBackend
{
    public string Name => WebSearchBackends.Corpus;

    public async Task<IReadOnlyList<SearchResult>> SearchAsync(string query, int count, CancellationToken cancellationToken)
    {
        try
        {
            return await store.SearchAsync(query, count, cancellationToken).ConfigureAwait(false);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            throw new WebSearchException($"The local corpus ({store.Location}) could not be searched: {ex.Message}", ex);
        }
    }
}
