using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine;

/// <summary>
/// The tensors of a validated model (<see cref="ModelConfig.FromGguf"/> has checked every shape): matrices stay in the
/// memory-mapped file, norm weights and biases are small float copies.
/// </summary>
internal sealed unsafe class ModelWeights
{
    public ModelWeights(GgufFile file, ModelConfig config, bool simd)
    {
        Config = config;
        TokenEmbedding = new Matrix(file, file.FindTensor("token_embd.weight")!, simd, repackable: false);
        Output = file.FindTensor("output.weight") is { } o ? new Matrix(file, o, simd) : TokenEmbedding;
        OutputNorm = Vector(file, "output_norm.weight")!;
        RopeFreqFactors = Vector(file, "rope_freqs.weight");
        Layers = new Layer[config.LayerCount];
        for (var i = 0; i < config.LayerCount; i++)
        {
            var p = $"blk.{i}.";
            Layers[i] = new Layer
            {
                AttnNorm = Vector(file, p + "attn_norm.weight")!,
                Wqkv = config.FusedQkv ? M(file, p + "attn_qkv.weight", simd) : null,
                Wq = config.FusedQkv ? null : M(file, p + "attn_q.weight", simd),
                Wk = config.FusedQkv ? null : M(file, p + "attn_k.weight", simd),
                Wv = config.FusedQkv ? null : M(file, p + "attn_v.weight", simd),
                Bq = Vector(file, p + "attn_q.bias"),
                Bk = Vector(file, p + "attn_k.bias"),
                Bv = Vector(file, p + "attn_v.bias"),
                QNorm = config.QkNorm ? Vector(file, p + "attn_q_norm.weight") : null,
                KNorm = config.QkNorm ? Vector(file, p + "attn_k_norm.weight") : null,
                Wo = M(file, p + "attn_output.weight", simd),
                FfnNorm = Vector(file, p + "ffn_norm.weight")!,
                Gate = config.FusedGateUp ? null : M(file, p + "ffn_gate.weight", simd),
                Up = M(file, p + "ffn_up.weight", simd),
                Down = M(file, p + "ffn_down.weight", simd),
            };
        }
    }

    public ModelConfig Config { get; }

    public Matrix TokenEmbedding { get; }

    /// <summary>The output projection: <c>output.weight</c>, or the token embedding when the model ties them.</summary>
    public Matrix Output { get; }

    public float[] OutputNorm { get; }

    /// <summary>Llama 3's per-frequency RoPE divisors (<c>rope_freqs.weight</c>), when present.</summary>
    public float[]? RopeFreqFactors { get; }

    public Layer[] Layers { get; }

    /// <summary>Bytes of weights one token's forward pass reads (every matrix once; the embedding row is negligible).</summary>
    public long BytesPerToken
    {
        get
        {
            long total = Output.Bytes;
            foreach (var l in Layers)
            {
                foreach (var m in new[] { l.Wqkv, l.Wq, l.Wk, l.Wv, l.Wo, l.Gate, l.Up, l.Down })
                {
                    total += m?.Bytes ?? 0;
                }
            }

            return total;
        }
    }

    private static Matrix M(GgufFile file, string name, bool simd) => new(file, file.FindTensor(name)!, simd);

    private static float[]? Vector(GgufFile file, string name)
    {
        var t = file.FindTensor(name);
        if (t is null)
        {
            return null;
        }

        var result = new float[t.ElementCount];
        fixed (float* r = result)
        {
            Dequantizer.Row(t.Type, file.GetTensorPointer(t), r, result.Length);
        }

        return result;
    }

    internal sealed class Layer
    {
        public required float[] AttnNorm { get; init; }

        public Matrix? Wqkv { get; init; }

        public Matrix? Wq { get; init; }

        public Matrix? Wk { get; init; }

        public Matrix? Wv { get; init; }

        public float[]? Bq { get; init; }

        public float[]? Bk { get; init; }

        public float[]? Bv { get; init; }

        public float[]? QNorm { get; init; }

        public float[]? KNorm { get; init; }

        public required Matrix Wo { get; init; }

        public required float[] FfnNorm { get; init; }

        public Matrix? Gate { get; init; }

        public required Matrix Up { get; init; }

        public required Matrix Down { get; init; }
    }
}
