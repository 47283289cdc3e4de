namespace Steward.Sessions;

/// <summary>
/// An export imported as a copy: the session and each of its runs get new ids (time-ordered by when each began, as
/// ids minted at the time would be), messages and evaluations follow their runs, and the title says it is a copy.
/// Everything else is kept, so the copy prices, scores and reads exactly as the original.
/// </summary>
internal static class SessionImportCopy
{
    private const string Suffix = " (copy)";

    public static SessionExportDocument WithNewIds(SessionExportDocument doc, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(doc);
        ArgumentNullException.ThrowIfNull(time);
        var runIds = doc.Runs.ToDictionary(r => r.Id, r => Storage.RecordIds.NewVersion7(r.StartedAt));
        var title = doc.Session.Title.Length + Suffix.Length <= 200 ? doc.Session.Title + Suffix : doc.Session.Title[..(199 - Suffix.Length)] + "…" + Suffix;
        return doc with
        {
            Session = doc.Session with { Id = Storage.RecordIds.NewVersion7(time.GetUtcNow()), Title = title },
            Messages = doc.Messages.Select(m => m with { RunId = m.RunId is { } id ? runIds[id] : null }).ToArray(),
            Runs = doc.Runs.Select(r => r with { Id = runIds[r.Id] }).ToArray(),
        };
    }
}
