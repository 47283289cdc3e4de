using System.Data.Common;
using Steward.Sessions;

namespace Steward.Web.Components.Shared;

/// <summary>
/// Turns an exception into a sentence fit for the screen. Engine exceptions already carry such a message; anything
/// else gets a generic one, because its text may hold paths, SQL or secrets.
/// </summary>
internal static class FriendlyMessages
{
    public static string Describe(Exception? problem) => problem switch
    {
        null => "The page could not be shown. Reload it, or go back and try again.",
        SessionNotFoundException s when s.SessionId != Guid.Empty => SessionNotFound(s.SessionId),
        SessionNotFoundException or SessionImportException or Steward.Agents.PresetLoadException => problem.Message,
        Steward.Providers.ProviderNotConfiguredException => problem.Message,
        DbException => "The database could not be read. Check that the database is reachable and not locked, then try again.",
        OperationCanceledException => "The operation was cancelled.",
        _ => "The page hit an unexpected error. It has been logged; reload the page or try again.",
    };

    /// <summary>The engine's message points at the command line; a web user is told where to look in the app.</summary>
    public static string SessionNotFound(Guid id) =>
        $"There is no session {id}: it may have been deleted. History lists the sessions there are.";
}
