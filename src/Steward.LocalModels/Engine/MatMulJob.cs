using Steward.LocalModels.Engine.Numerics;

namespace Steward.LocalModels.Engine;

/// <summary>
/// Y[b, r] = W[r] · X[b] for up to three matrices that share one input (q/k/v, or gate/up), in one parallel
/// dispatch. Threads take chunks of rows from a shared counter so a slow or preempted thread does not hold the
/// rest back; inside a chunk the kernel reuses each weight row for every activation row while it sits in L1.
/// Which activation rows take part is a range, so the last layer can run for the rows whose logits are wanted only.
/// </summary>
internal sealed unsafe class MatMulJob : IParallelJob
{
    private readonly Matrix?[] _w = new Matrix?[3];
    private readonly float*[] _out = new float*[3];
    private readonly int[] _rowStart = new int[4];
    private Activations? _x;
    private MatMulOp _op;
    private int _b0;
    private int _count;
    private int _matrices;
    private int _chunk;
    private int _next;
    private int _done;

    /// <summary>
    /// Runs the product for activation rows [<paramref name="b0"/>, <paramref name="b0"/> + <paramref name="count"/>)
    /// on <paramref name="pool"/>; outputs are row-major [batch, rows] with stride = rows, indexed by the absolute
    /// activation row.
    /// </summary>
    public void Run(IJobRunner pool, Activations x, int b0, int count, MatMulOp op, Matrix w0, float* y0, Matrix? w1 = null, float* y1 = null, Matrix? w2 = null, float* y2 = null)
    {
        _x = x;
        _b0 = b0;
        _count = count;
        _op = op;
        _matrices = 0;
        Add(w0, y0);
        if (w1 is not null)
        {
            Add(w1, y1);
        }

        if (w2 is not null)
        {
            Add(w2, y2);
        }

        for (var i = 0; i < _matrices; i++)
        {
            x.Prepare(_w[i]!.Kind);
        }

        var total = _rowStart[_matrices];
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

        _w[_matrices] = w;
        _out[_matrices] = y;
        _rowStart[_matrices + 1] = _rowStart[_matrices] + w.Rows;
        _matrices++;
    }

    public bool IsFinished => Volatile.Read(ref _done) >= _rowStart[_matrices];

    public void Execute(int threadIndex, int threadCount)
    {
        var x = _x!;
        var total = _rowStart[_matrices];
        while (true)
        {
            var start = Interlocked.Add(ref _next, _chunk) - _chunk;
            if (start >= total)
            {
                return;
            }

            var end = Math.Min(total, start + _chunk);
            for (var m = 0; m < _matrices && start < end; m++)
            {
                var lo = Math.Max(start, _rowStart[m]);
                var hi = Math.Min(end, _rowStart[m + 1]);
                if (lo < hi)
                {
                    var w = _w[m]!;
                    w.Kernel.Rows(w, x, _b0, _count, lo - _rowStart[m], hi - _rowStart[m], _out[m], w.Rows, _op);
                }
            }

            Interlocked.Add(ref _done, end - start);
        }
    }
}
