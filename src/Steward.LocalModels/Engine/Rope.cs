using System.Runtime.CompilerServices;
namespace Steward.LocalModels.Engine;

/// <summary>
/// Rotary position embedding as ggml computes it: per position, theta starts at the position and is multiplied by
/// freq_base^(−2/n_dims) per pair (in float, so the rounding accumulates as it does in ggml), divided by the
/// frequency factor (Llama 3's rope_freqs) before the linear scale; sincosf gives cos/sin. The rotation was compiled
/// with FMA contraction: x0·cos − x1·sin rounds x1·sin first, x0·sin + x1·cos rounds x1·cos first.
/// </summary>
internal sealed unsafe class Rope
{
    private readonly int _dims;
    private readonly int _headDim;
    private readonly float _thetaScale;
    private readonly float _freqScale;
    private readonly float[]? _factors;
    private readonly RopeMode _mode;
    private readonly float[] _cache;

    public Rope(ModelConfig config, float[]? factors, int maxRows)
    {
        _dims = config.RopeDimensions;
        _headDim = config.HeadDim;
        _thetaScale = MathF.Pow(config.RopeFreqBase, -2.0f / _dims);
        _freqScale = config.RopeFreqScale;
        _factors = factors;
        _mode = config.RopeMode;
        _cache = new float[maxRows * _dims];
    }

    /// <summary>Computes cos/sin for rows 0..count−1 at the given positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Prepare(ReadOnlySpan<int> positions)
    {
        for (var b = 0; b < positions.Length; b++)
        {
            var theta = (float)positions[b];
            var row = _cache.AsSpan(b * _dims, _dims);
            for (var i0 = 0; i0 < _dims; i0 += 2)
            {
                var ff = _factors is null ? 1f : _factors[i0 / 2];
                var t = _freqScale * (theta / ff);
                var (sin, cos) = MathF.SinCos(t);
                row[i0] = cos * 1f;
                row[i0 + 1] = sin * 1f;
                theta *= _thetaScale;
            }
        }
    }

    /// <summary>Rotates <paramref name="heads"/> heads of each of <paramref name="rows"/> rows (row stride = heads × head dim).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(float* x, int rows, int heads)
    {
        fixed (float* cache = _cache)
        {
            for (var b = 0; b < rows; b++)
            {
                var cs = cache + (b * _dims);
                for (var h = 0; h < heads; h++)
                {
                    var v = x + (((long)b * heads * _headDim) + (h * _headDim));
                    var offset = _mode == RopeMode.NeoX ? _dims / 2 : 1;
                    for (var i0 = 0; i0 < _dims; i0 += 2)
                    {
                        var ic = _mode == RopeMode.NeoX ? i0 / 2 : i0;
                        float cos = cs[i0], sin = cs[i0 + 1];
                        float x0 = v[ic], x1 = v[ic + offset];
                        v[ic] = MathF.FusedMultiplyAdd(x0, cos, -(x1 * sin));
                        v[ic + offset] = MathF.FusedMultiplyAdd(x0, sin, x1 * cos);
                    }
                }
            }
        }
    }
}
