using Steward.LocalModels.Engine.Numerics;

namespace Steward.LocalModels.Engine;

/// <summary>
/// Y[b, r] = W[r] · X[b] for up to three matrices that share one input (q/k/v, or gate/up), in one parallel
/// dispatch. Threads take chunks of rows from a shared counter so a slow or preempted thread does not hold the
/// rest back; inside a chunk each weight row is used for every activation row of the batch while it sits in L1,
/// which is what makes prompt processing a matrix-matrix product rather than a series of matrix-vector ones.
/// </summary>
internal sealed unsafe class MatMulJob : IParallelJob
{
    private readonly Matrix?[] _w = new Matrix?[3];
    private readonly float*[] _out = new float*[3];
    private readonly int[] _rowStart = new int[4];
    private QuantizedActivations? _x;
    private int _count;
    private int _chunk;
    private int _next;
    private int _done;

    /// <summary>Runs the product on <paramref name="pool"/>; outputs are row-major [batch, rows] with stride = rows.</summary>
    public void Run(IJobRunner pool, QuantizedActivations x, Matrix w0, float* y0, Matrix? w1 = null, float* y1 = null, Matrix? w2 = null, float* y2 = null)
    {
        _x = x;
        _count = 0;
        Add(w0, y0);
        if (w1 is not null)
        {
            Add(w1, y1);
        }

        if (w2 is not null)
        {
            Add(w2, y2);
        }

        for (var i = 0; i < _count; i++)
        {
            x.Prepare(_w[i]!.Kind);
        }

        var total = _rowStart[_count];
        // Enough chunks for balance (8 per thread), but at least 16 rows so the counter is not contended.
        _chunk = Math.Max(16, total / (pool.ThreadCount * 8));
        _next = 0;
        _done = 0;
        pool.Run(this);
        _x = null;
        Array.Clear(_w);
    }

    private void Add(Matrix w, float* y)
    {
        if (w.Cols != _x!.Length)
        {
            throw new InvalidOperationException($"Matrix '{w.Name}' has rows of {w.Cols} but the input rows have {_x.Length} elements.");
        }

        _w[_count] = w;
        _out[_count] = y;
        _rowStart[_count + 1] = _rowStart[_count] + w.Rows;
        _count++;
    }

    public bool IsFinished => Volatile.Read(ref _done) >= _rowStart[_count];

    public void Execute(int threadIndex, int threadCount)
    {
        var x = _x!;
        var total = _rowStart[_count];
        while (true)
        {
            var start = Interlocked.Add(ref _next, _chunk) - _chunk;
            if (start >= total)
            {
                return;
            }

            var end = Math.Min(total, start + _chunk);
            for (var m = 0; m < _count && start < end; m++)
            {
                var lo = Math.Max(start, _rowStart[m]);
                var hi = Math.Min(end, _rowStart[m + 1]);
                if (lo < hi)
                {
                    Rows(_w[m]!, _out[m], x, lo - _rowStart[m], hi - _rowStart[m]);
                }
            }

            Interlocked.Add(ref _done, end - start);
        }
    }

    private static void Rows(Matrix w, float* y, QuantizedActivations x, int r0, int r1)
    {
        var fn = w.Kernel.Fn;
        var fn4 = w.Kernel4.Fn;
        var n = x.Length;
        var batch = x.Rows;
        var rows = w.Rows;
        var q8 = w.Kind == ActivationKind.Q8;
        var four = stackalloc float[4];
        for (var r = r0; r < r1; r++)
        {
            var wr = w.Row(r);
            var b = 0;
            if (fn4 != null)
            {
                for (; b + 4 <= batch; b += 4)
                {
                    var off = b * n;
                    fn4(wr, q8 ? null : x.Floats(w.Kind, b), x.Q + off, x.QU + off, x.D + (off / 32), x.S + (off / 16), n, n, four);
                    y[(b * rows) + r] = four[0];
                    y[((b + 1) * rows) + r] = four[1];
                    y[((b + 2) * rows) + r] = four[2];
                    y[((b + 3) * rows) + r] = four[3];
                }
            }

            for (; b < batch; b++)
            {
                var off = b * n;
                y[(b * rows) + r] = q8
                    ? fn(wr, null, x.Q + off, x.D + (off / 32), x.S + (off / 16), n)
                    : fn(wr, x.Floats(w.Kind, b), null, null, null, n);
            }
        }
    }
}
