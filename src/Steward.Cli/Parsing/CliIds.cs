using Steward.Sessions;

namespace Steward.Cli.Parsing;

/// <summary>
/// Ids as people type them: a whole id, or any prefix that only one stored session, run or batch starts with (UUIDv7
/// ids made a minute apart share their first eight digits, so a fixed-length short id is not enough).
/// </summary>
internal static class CliIds
{
    public static Task<Guid> ResolveAsync(this CliServices services, IdKind kind, string text, CancellationToken cancellationToken) =>
        services.Get<IdLookup>().ResolveAsync(kind, text, cancellationToken);

    public static Task<Guid> ResolveAsync(this CliServices services, IdKind kind, IdText text, CancellationToken cancellationToken) =>
        services.ResolveAsync(kind, text.Value, cancellationToken);

    public static async Task<Guid?> ResolveOptionalAsync(this CliServices services, IdKind kind, IdText? text, CancellationToken cancellationToken) =>
        text is { } typed ? await services.ResolveAsync(kind, typed.Value, cancellationToken).ConfigureAwait(false) : null;
}

/// <summary>An id as typed on the command line: whole, or its first characters. Checked when the command line is parsed.</summary>
internal readonly record struct IdText(string Value)
{
    public static bool IsValid(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length is > 0 and <= 36 && trimmed.All(c => char.IsAsciiHexDigit(c) || c == '-');
    }
}
