using Steward.Costs;

namespace Steward.Storage;

/// <summary>
/// The filter of a report as SQL conditions on <c>runs</c> (for <c>SqlQueryRaw</c>: values are parameters <c>{0}</c>,
/// <c>{1}</c>…, stored in the provider's formats), shared by every report so they all select the same runs.
/// </summary>
internal sealed class ReportSql(StorageBackend backend)
{
    public List<string> Where { get; } = [];

    public List<object> Parameters { get; } = [];

    /// <summary>Adds a condition; <c>{0}</c> in it stands for <paramref name="value"/>.</summary>
    public ReportSql Add(string condition, object value)
    {
        Where.Add(condition.Replace("{0}", "{" + Parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}", StringComparison.Ordinal));
        Parameters.Add(value);
        return this;
    }

    /// <summary>The conditions on runs (<paramref name="alias"/> qualifies the columns) that <paramref name="filter"/> sets.</summary>
    public ReportSql Runs(CostFilter filter, string alias = "", bool dates = true, bool agent = true)
    {
        var p = alias.Length == 0 ? "" : alias + ".";
        if (dates && filter.From is { } from)
        {
            Add($"{p}\"StartedAt\" >= {{0}}", backend.Date(from.UtcDateTime));
        }

        if (dates && filter.To is { } to)
        {
            Add($"{p}\"StartedAt\" < {{0}}", backend.Date(to.UtcDateTime));
        }

        if (agent && !string.IsNullOrEmpty(filter.Agent))
        {
            Add($"{p}\"PresetName\" = {{0}}", filter.Agent);
        }

        if (!string.IsNullOrEmpty(filter.Model))
        {
            Add($"{p}\"Model\" = {{0}}", filter.Model);
        }

        if (!string.IsNullOrEmpty(filter.Provider))
        {
            Add($"{p}\"Provider\" = {{0}}", filter.Provider);
        }

        if (filter.SessionId is { } session)
        {
            Add($"{p}\"SessionId\" = {{0}}", backend.Id(session));
        }

        if (!string.IsNullOrEmpty(filter.UserId))
        {
            Add($"{p}\"UserId\" = {{0}}", filter.UserId);
        }

        if (!string.IsNullOrEmpty(filter.Tag))
        {
            // Through the Tag index: the tag's runs, then each by its key.
            Add($"{NotDriving((alias.Length == 0 ? "\"runs\"." : p) + "\"Id\"")} IN (SELECT t.\"RunId\" FROM \"run_tags\" t WHERE t.\"Tag\" = {{0}})", filter.Tag);
        }

        return this;
    }

    /// <summary>
    /// The conditions on a rollup table that <paramref name="filter"/> sets, its time column between
    /// <paramref name="from"/> and <paramref name="to"/> (whole units; the filter's own bounds are the caller's edges).
    /// A session filter has no rollup: the caller reads that session's rows instead.
    /// </summary>
    public ReportSql Rollup(CostFilter filter, string timeColumn, DateTime? from, DateTime? to, bool agent = true)
    {
        if (from is { } start)
        {
            Add($"\"{timeColumn}\" >= {{0}}", backend.Date(start));
        }

        if (to is { } end)
        {
            Add($"\"{timeColumn}\" < {{0}}", backend.Date(end));
        }

        return Runs(filter with { From = null, To = null, SessionId = null, UserId = null, Tag = null }, dates: false, agent: agent);
    }

    /// <summary>
    /// The conditions on a facet rollup (<c>run_facet_rollups</c> and its kin by UTC day, <c>facet_hour_rollups</c> and its kin
    /// by UTC hour: <paramref name="timeColumn"/>) for <paramref name="filter"/> between whole units <paramref name="from"/> and
    /// <paramref name="to"/>, in the rows of <paramref name="facet"/> ("" = every run once; <c>user</c>; <c>tag</c>), of its
    /// value <paramref name="value"/> when given.
    /// </summary>
    public ReportSql Facets(CostFilter filter, DateTime? from, DateTime? to, string facet, string? value, string timeColumn = "Day")
    {
        Rollup(filter, timeColumn, from, to);
        Add("\"Facet\" = {0}", facet);
        return value is null ? this : Add("\"Value\" = {0}", value);
    }

    /// <summary>How many ranges one <see cref="FromWithin"/> takes: two parameters each, well within both providers' limits.</summary>
    public const int MaxRangesPerQuery = 500;

    /// <summary>
    /// Keeps the rows whose <paramref name="column"/> lies within any of <paramref name="ranges"/> (UTC instants, each end
    /// exclusive): adds the condition and returns what to put first in FROM, before the table it qualifies
    /// (<c>FROM {returned}"runs"</c>). On SQLite a list of ranges read first, not a chain of ORs: each range is then read
    /// through the column's index, where an OR of many ranges, or SQLite's own choice of join order, made it scan the table
    /// once or once per range. On PostgreSQL the chain of ORs (and nothing to put in FROM).
    /// </summary>
    public string FromWithin(string column, IEnumerable<(DateTime From, DateTime To)> ranges)
    {
        var bounds = new List<(string From, string To)>();
        foreach (var (from, to) in ranges)
        {
            bounds.Add(("{" + Parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}",
                "{" + (Parameters.Count + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + "}"));
            Parameters.Add(backend.Date(from));
            Parameters.Add(backend.Date(to));
        }

        if (bounds.Count == 0)
        {
            Where.Add("1 = 0");
            return "";
        }

        if (backend.Provider == StorageProvider.Postgres)
        {
            // PostgreSQL cannot estimate a join on ranges (it planned ten million rows and scanned the table, 4 s at 1M);
            // an OR of the ranges it reads as one bitmap of index scans, the table's pages then in order.
            Where.Add("(" + string.Join(" OR ", bounds.Select(b => $"({column} >= {b.From} AND {column} < {b.To})")) + ")");
            return "";
        }

        // VALUES names its columns column1, column2; CROSS JOIN keeps SQLite from reordering the tables.
        Where.Add($"{column} >= w.column1 AND {column} < w.column2");
        _byRanges = true;
        return $"(VALUES {string.Join(", ", bounds.Select(b => $"({b.From}, {b.To})"))}) AS w CROSS JOIN ";
    }

    private bool _byRanges;

    /// <summary>
    /// <paramref name="column"/> as the left side of an <c>IN (subquery)</c> condition. Read by ranges
    /// (<see cref="FromWithin"/>; call that first), SQLite must not walk the subquery's rows for each range to look the
    /// table up by them (a tag's 80,000 runs once per hour of the list): a unary plus keeps it to a membership test.
    /// </summary>
    public string NotDriving(string column) => _byRanges && backend.Provider == StorageProvider.Sqlite ? "+" + column : column;

    /// <summary><c>WHERE …</c>, or nothing when there is no condition.</summary>
    public string WhereClause => Where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", Where);

    /// <summary>The conditions joined by AND, or <c>1 = 1</c>.</summary>
    public string Conditions => Where.Count == 0 ? "1 = 1" : string.Join(" AND ", Where);
}
