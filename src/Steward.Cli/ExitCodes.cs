namespace Steward.Cli;

/// <summary>The CLI's exit codes. Scripts rely on them; add, never renumber.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int InvalidArguments = 2;
    public const int NotFound = 3;
    public const int NotConfigured = 4;
    public const int ProviderFailed = 5;
    public const int BudgetExceeded = 6;
    public const int InvalidPreset = 7;

    /// <summary><c>eval</c>: the mean quality score is below <c>--fail-under</c>.</summary>
    public const int EvaluationBelowThreshold = 8;

    /// <summary><c>eval</c>: the mean quality score fell against the baseline by more than the tolerance.</summary>
    public const int EvaluationRegressed = 9;

    /// <summary>The database cannot be used (not a SQLite file, read-only, a folder that does not exist).</summary>
    public const int StorageUnavailable = 10;
    public const int Cancelled = 130;
}
