using System.Globalization;
using System.Runtime.InteropServices;
using Steward.LocalModels.Engine;

namespace Steward.LocalModels.Bench;

/// <summary>
/// One decoded row's attention (<c>attention [--heads 9 --kv-heads 3 --dim 64 --position 160]</c>): the fastest of many
/// runs in thread CPU time, per layer and per (head, key) pair, on one thread; the KV cache stays in cache, so this is
/// the routine's arithmetic.
/// </summary>
internal static unsafe class AttentionCost
{
    public static void Run(int heads, int kvHeads, int dim, int position)
    {
        var cells = position + 1;
        var kv = kvHeads * dim;
        var k = (Half*)NativeMemory.AlignedAlloc((nuint)(cells * kv * sizeof(Half)), 64);
        var v = (Half*)NativeMemory.AlignedAlloc((nuint)(cells * kv * sizeof(Half)), 64);
        var q = (float*)NativeMemory.AlignedAlloc((nuint)(heads * dim * sizeof(float)), 64);
        var o = (float*)NativeMemory.AlignedAlloc((nuint)(heads * dim * sizeof(float)), 64);
        var rng = new Random(1);
        for (var i = 0; i < cells * kv; i++)
        {
            k[i] = (Half)(rng.NextSingle() - 0.5f);
            v[i] = (Half)(rng.NextSingle() - 0.5f);
        }

        for (var i = 0; i < heads * dim; i++)
        {
            q[i] = rng.NextSingle() - 0.5f;
        }

        using var pool = new ComputePool(1);
        using var attention = new FlashAttention(1, heads, dim);
        var row = stackalloc AttentionRow[1];
        row[0] = new AttentionRow { Q = q, Output = o, K = k, V = v, Position = position, Path = AttentionPath.OneChunk };
        var best = double.MaxValue;
        for (var round = 0; round < 200; round++)
        {
            var t0 = ThreadClock.Now();
            for (var rep = 0; rep < 10; rep++)
            {
                attention.Run(pool, row, 1, heads, kvHeads, 0.125f, 0);
            }

            best = Math.Min(best, (ThreadClock.Now() - t0) / 10);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"attention {heads} heads / {kvHeads} KV, dim {dim}, {cells} keys: {best * 1e6:F1} µs per layer, {best * 1e9 / (heads * cells):F1} ns per (head, key); output[0] = {o[0]:R}"));
        NativeMemory.AlignedFree(k);
        NativeMemory.AlignedFree(v);
        NativeMemory.AlignedFree(q);
        NativeMemory.AlignedFree(o);
    }
}
