using System.Globalization;

namespace Steward.Storage;

/// <summary>How the run writer holds a write (its rows by table) and the statements it prepares to store them.</summary>
internal sealed partial class RunWriter
{
    /// <summary>
    /// A statement and the names of its parameters, in the order values are given. Compared by reference:
    /// each is made once, and hashing its SQL on every lookup of its prepared command cost more than the lookup.
    /// </summary>
    private sealed class Statement(string sql, string[] names)
    {
        public string Sql { get; } = sql;

        public string[] Names { get; } = names;
    }

    /// <summary>A table rows are inserted into, with its insert statements for 1, 2, 4 ... <see cref="MaxRows"/> rows at once.</summary>
    private sealed class Table
    {
        /// <summary>Rows per statement at most: 64 runs are under 2,000 parameters, far within every provider's limit.</summary>
        public const int MaxRows = 64;

        private readonly Statement[] _sized;

        /// <param name="name">The table.</param>
        /// <param name="columns">Its columns, in the order values are given.</param>
        /// <param name="rowAtATime">
        /// One row per statement: for a table whose row triggers read the row's siblings. PostgreSQL fires a statement's row
        /// triggers after all its rows are in, SQLite after each row, so only single-row statements count the same on both
        /// (run_tags: a tag's trigger pairs it with the run's tags already stored).
        /// </param>
        /// <param name="maxRows">Rows per statement at most (a power of two up to <see cref="MaxRows"/>), for wide rows.</param>
        public Table(string name, string[] columns, bool rowAtATime = false, int maxRows = MaxRows)
        {
            MaxRowsPerStatement = rowAtATime ? 1 : maxRows;
            var quoted = string.Join(", ", columns.Select(c => $"\"{c}\""));
            _sized = [.. Enumerable.Range(0, System.Numerics.BitOperations.Log2(MaxRows) + 1).Select(power =>
            {
                var rows = Enumerable.Range(0, 1 << power).ToArray();
                var names = rows.SelectMany(r => columns.Select(c => power == 0 ? c : c + "_" + r.ToString(CultureInfo.InvariantCulture))).ToArray();
                var values = rows.Select(r => "(" + string.Join(", ", names.Skip(r * columns.Length).Take(columns.Length).Select(n => "@" + n)) + ")");
                return new Statement($"INSERT INTO {name} ({quoted}) VALUES {string.Join(", ", values)}", names);
            })];
        }

        public int MaxRowsPerStatement { get; }

        public Statement Single => _sized[0];

        /// <summary>The statement for <paramref name="rows"/> rows, a power of two up to <see cref="MaxRows"/>.</summary>
        public Statement Sized(int rows) => _sized[System.Numerics.BitOperations.Log2((uint)rows)];
    }

    /// <summary>One caller's write: its rows by table, its run updates, the exchange it adds and the session it touches.</summary>
    private sealed class Write
    {
        private readonly Dictionary<Table, List<object?[]>> _rows = [];

        public List<object?[]> Updates { get; } = [];

        /// <summary>The id of the session this write creates, if it does.</summary>
        public object? NewSession { get; set; }

        public Exchange? Exchange { get; set; }

        public (object SessionId, object Now)? Touch { get; set; }

        /// <summary>Nobody waits for this write to be durable before answering (a gateway run stored behind its answer).</summary>
        public bool Behind { get; init; }

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<object?[]> Rows(Table table) => _rows.TryGetValue(table, out var rows) ? rows : _rows[table] = [];

        public List<object?[]>? RowsOf(Table table) => _rows.GetValueOrDefault(table);
    }

    /// <summary>A question and its answer added to a session's messages.</summary>
    private sealed record Exchange(object SessionId, object RunId, string Query, string Answer, object StartedAt, object Now);
}
