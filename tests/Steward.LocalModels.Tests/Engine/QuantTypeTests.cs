using System.Runtime.Intrinsics;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

public sealed unsafe class QuantTypeTests
{
    public static TheoryData<uint, float> Types => new()
    {
        // type, dequantization error bound relative to the row's absolute maximum
        { (uint)GgmlType.F32, 0f },
        { (uint)GgmlType.F16, 1e-3f },
        { (uint)GgmlType.BF16, 8e-3f },
        { (uint)GgmlType.Q8_0, 0.01f },
        { (uint)GgmlType.Q4_0, 0.13f },
        { (uint)GgmlType.Q4_1, 0.07f },
        { (uint)GgmlType.Q5_0, 0.07f },
        { (uint)GgmlType.Q5_1, 0.04f },
        { (uint)GgmlType.Q4_K, 0.15f },
        { (uint)GgmlType.Q5_K, 0.08f },
        { (uint)GgmlType.Q6_K, 0.04f },
    };

    [Theory]
    [MemberData(nameof(Types))]
    public void Dequantize_QuantizedRandomRow_IsCloseToOriginal(uint typeNumber, float bound)
    {
        var type = (GgmlType)typeNumber;
        var x = RandomRow(1024, seed: 1);
        var bytes = Quantizer.Quantize(type, x, x.Length);
        var y = new float[x.Length];

        Dequantizer.Row(type, bytes, y);

        var amax = x.Max(MathF.Abs);
        for (var i = 0; i < x.Length; i++)
        {
            Assert.True(MathF.Abs(x[i] - y[i]) <= (bound * amax) + 1e-6f, $"{type} element {i}: {x[i]} vs {y[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Rows_PortableAndSimd_AreBitIdentical(uint typeNumber, float bound)
    {
        var type = (GgmlType)typeNumber;
        _ = bound;
        foreach (var n in new[] { 512, 1024 })
        {
            foreach (var order in new[] { MatMulOp.Gemv, new MatMulOp(5, 0), new MatMulOp(9, 2) })
            {
                var simd = Multiply(type, n, rows: 8, batch: 5, simd: true, order, out _);
                var portable = Multiply(type, n, rows: 8, batch: 5, simd: false, order, out _);
                Assert.Equal(simd, portable);
            }
        }
    }

    [Theory]
    [InlineData((uint)GgmlType.Q8_0)]
    [InlineData((uint)GgmlType.Q4_0)]
    [InlineData((uint)GgmlType.Q5_0)]
    [InlineData((uint)GgmlType.Q4_1)]
    [InlineData((uint)GgmlType.Q5_1)]
    public void Rows_ExtremeQuantsAndActivations_SimdMatchesPortableBitForBit(uint typeNumber)
    {
        // Quants at both ends of their range against activations quantized to ±127 in every block: the products
        // whose 16-bit pair sums are largest, where a shortcut in the integer steps would saturate or wrap. Six rows
        // (not a multiple of 8) keep Q4_0 out of the repacked layout and leave a remainder row for the one-row path.
        var type = (GgmlType)typeNumber;
        const int n = 256, rows = 6, batch = 5;
        var w = new float[rows * n];
        var x = new float[batch * n];
        var rng = new Random(7);
        for (var i = 0; i < w.Length; i++)
        {
            // Mostly ±1 with one ±1.0 anchor per block, so quants sit at the type's minimum and maximum.
            w[i] = (i % 32 == 0 ? 1f : (float)(rng.Next(3) - 1)) * (rng.Next(2) == 0 ? 1f : -1f);
        }

        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.Next(2) == 0 ? 1 : -1) * (i % 7 == 0 ? 0.5f : 1f);
        }

        foreach (var order in new[] { MatMulOp.Gemv, new MatMulOp(batch, 0), new MatMulOp(9, 2) })
        {
            var simd = Multiply(type, w, x, n, rows, batch, simd: true, order, out var reference);
            var portable = Multiply(type, w, x, n, rows, batch, simd: false, order, out _);
            Assert.Equal(portable, simd);
            for (var i = 0; i < simd.Length; i++)
            {
                var tolerance = ActivationKinds.For(type) == ActivationKind.Q8_1 ? 2e-2 : 1e-4;
                Assert.True(Math.Abs(simd[i] - reference[i]) <= tolerance * (1 + Math.Abs(reference[i])), $"{type} {order} output {i}: {simd[i]} vs {reference[i]}");
            }
        }
    }

    [Fact]
    public void Rows_RepackedQ4KWithEveryScaleAndMinimumCode_SimdMatchesPortableBitForBit()
    {
        // Sub-blocks of 32 with amplitudes and offsets from tiny to large, so the 6-bit scale and minimum codes (whose
        // top two bits of sub-blocks 4-7 sit apart in the packed bytes) take values across their range, nibbles reach
        // 0 and 15, and activations of ±1 quantize to ±127. Eight rows: the repacked layout, four-row gemv groups.
        const int n = 1024, rows = 8;
        var w = new float[rows * n];
        var rng = new Random(11);
        for (var i = 0; i < w.Length; i++)
        {
            var sub = i / 32;
            var amplitude = 0.02f + ((sub * 37 % 64) / 8f);
            var offset = (sub * 13 % 7) * amplitude * 0.5f;
            w[i] = offset + (amplitude * (i % 32 == 0 ? 1f : i % 32 == 1 ? -1f : (float)((rng.NextDouble() * 2) - 1)));
        }

        foreach (var batch in new[] { 1, 5 })
        {
            var x = new float[batch * n];
            for (var i = 0; i < x.Length; i++)
            {
                x[i] = (rng.Next(2) == 0 ? 1f : -1f) * (i % 5 == 0 ? 0.25f : 1f);
            }

            foreach (var order in new[] { MatMulOp.Gemv, new MatMulOp(batch, 0) })
            {
                var simd = Multiply(GgmlType.Q4_K, w, x, n, rows, batch, simd: true, order, out var reference);
                var portable = Multiply(GgmlType.Q4_K, w, x, n, rows, batch, simd: false, order, out _);
                Assert.Equal(portable, simd);
                for (var i = 0; i < simd.Length; i++)
                {
                    Assert.True(Math.Abs(simd[i] - reference[i]) <= 1e-4 * (1 + Math.Abs(reference[i])), $"{order} output {i}: {simd[i]} vs {reference[i]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Rows_MatchDoublePrecisionReference(uint typeNumber, float bound)
    {
        var type = (GgmlType)typeNumber;
        _ = bound;
        // Q4_1/Q5_1 take their minimum through the activation sums ggml stores as fp16(d·Σq): that rounding is theirs.
        var tolerance = ActivationKinds.For(type) == ActivationKind.Q8_1 ? 2e-2 : 1e-4;
        foreach (var order in new[] { MatMulOp.Gemv, new MatMulOp(5, 0), new MatMulOp(9, 2) })
        {
            var y = Multiply(type, 512, rows: 8, batch: 5, simd: true, order, out var reference);
            for (var i = 0; i < y.Length; i++)
            {
                Assert.True(Math.Abs(y[i] - reference[i]) <= tolerance * (1 + Math.Abs(reference[i])), $"{type} {order} output {i}: {y[i]} vs {reference[i]}");
            }
        }
    }

    [Theory]
    [InlineData((uint)GgmlType.F32)]
    [InlineData((uint)GgmlType.F16)]
    [InlineData((uint)GgmlType.BF16)]
    public void Rows_FloatTypesWithRaggedLength_HandleTail(uint typeNumber)
    {
        var type = (GgmlType)typeNumber;
        var y = Multiply(type, 172, rows: 4, batch: 3, simd: true, MatMulOp.Gemv, out var reference); // stories260K's n_ff
        for (var i = 0; i < y.Length; i++)
        {
            Assert.Equal(reference[i], y[i], 1e-3);
        }
    }

    /// <summary>
    /// ggml_vec_dot_f32's tail: GCC vectorised <c>sumf += x*y</c> into rounded products for groups of 16 and 8, added
    /// in order, and fused multiply-adds for the last few elements.
    /// </summary>
    [Fact]
    public void DotF32_Tail_RoundsGroupsAndFusesTheRest()
    {
        const int n = 64 + 16 + 8 + 3;
        var w = RandomRow(n, 3);
        var x = RandomRow(n, 4);
        fixed (float* wp = w)
        fixed (float* xp = x)
        {
            var result = FloatKernels.DotF32(wp, xp, n);
            var head = FloatKernels.DotF32(wp, xp, 64);
            var expected = head;
            for (var i = 64; i < 64 + 24; i++)
            {
                expected += w[i] * x[i];
            }

            for (var i = 64 + 24; i < n; i++)
            {
                expected = MathF.FusedMultiplyAdd(w[i], x[i], expected);
            }

            Assert.Equal(expected, result);
        }
    }

    [Fact]
    public void Dequantize_HandMadeQ4_0Block_FollowsGgmlLayout()
    {
        var block = new byte[18];
        BitConverter.TryWriteBytes(block.AsSpan(0, 2), (Half)0.5f);
        block[2] = 0x9F; // element 0 = 0xF - 8 = 7, element 16 = 0x9 - 8 = 1
        var y = new float[32];

        Dequantizer.Row(GgmlType.Q4_0, block, y);

        Assert.Equal(3.5f, y[0]);
        Assert.Equal(0.5f, y[16]);
        Assert.Equal(-4f, y[1]); // zero nibble → -8 * 0.5
    }

    [Fact]
    public void Dequantize_HandMadeQ6KBlock_FollowsGgmlLayout()
    {
        var block = new byte[210];
        BitConverter.TryWriteBytes(block.AsSpan(208, 2), (Half)1f);
        for (var i = 0; i < 16; i++)
        {
            block[192 + i] = (byte)(i + 1);
        }

        block[0] = 0x21;  // element 0 low nibble 1, element 64 low nibble 2
        block[128] = 0b11_10_01_00; // high bits: element 0 → 0, element 32 → 1, element 64 → 2, element 96 → 3
        var y = new float[256];

        Dequantizer.Row(GgmlType.Q6_K, block, y);

        Assert.Equal((1 - 32) * 1f, y[0]);
        Assert.Equal(((1 << 4) - 32) * 3f, y[32]);   // scale index 2
        Assert.Equal((2 + (2 << 4) - 32) * 5f, y[64]); // scale index 4
        Assert.Equal(((3 << 4) - 32) * 7f, y[96]);   // scale index 6
        Assert.Equal(-32 * 9f, y[128]);              // second half starts at scale 8
    }

    [Fact]
    public void QuantizeQ8_0_MatchesGgmlFormula()
    {
        const int n = 1024;
        var x = RandomRow(n, 11);
        x[3] = 0;
        Array.Clear(x, 64, 32); // an all-zero block
        using var act = new Activations(n);
        fixed (float* xp = x)
        {
            act.SetSource(xp, 1, n);
            act.Prepare(ActivationKind.Q8_1);
            for (var b = 0; b < n / 32; b++)
            {
                var amax = x.AsSpan(b * 32, 32).ToArray().Max(MathF.Abs);
                Assert.Equal((float)(Half)(amax / 127f), act.D[b]);
                var id = amax != 0 ? 127f / amax : 0f;
                var sum = 0;
                for (var j = 0; j < 32; j++)
                {
                    var expected = (int)MathF.Round(x[(b * 32) + j] * id);
                    Assert.Equal(expected, act.Q[(b * 32) + j]);
                    sum += expected;
                }

                Assert.Equal((float)(Half)(amax / 127f * sum), act.S[b]);
            }
        }
    }

    [Fact]
    public void QuantizeQ8K_MatchesGgmlReference()
    {
        const int n = 512;
        var x = RandomRow(n, 12);
        using var act = new Activations(n);
        fixed (float* xp = x)
        {
            act.SetSource(xp, 1, n);
            act.Prepare(ActivationKind.Q8_K);
            for (var b = 0; b < n / 256; b++)
            {
                float max = 0, amax = 0;
                for (var j = 0; j < 256; j++)
                {
                    if (MathF.Abs(x[(b * 256) + j]) > amax)
                    {
                        amax = MathF.Abs(x[(b * 256) + j]);
                        max = x[(b * 256) + j];
                    }
                }

                var iscale = -127f / max;
                Assert.Equal(1 / iscale, act.DK[b]);
                for (var j = 0; j < 256; j++)
                {
                    Assert.Equal(Math.Min(127, (int)MathF.Round(iscale * x[(b * 256) + j])), act.QK[(b * 256) + j]);
                }

                for (var g = 0; g < 16; g++)
                {
                    var sum = 0;
                    for (var j = 0; j < 16; j++)
                    {
                        sum += act.QK[(b * 256) + (g * 16) + j];
                    }

                    Assert.Equal(sum, act.BSums[(b * 16) + g]);
                }
            }
        }
    }

    [Fact]
    public void Half16_EveryFiniteHalf_MatchesSystemHalf()
    {
        var bits = new ushort[16];
        for (var i = 0; i < 65536; i += 16)
        {
            for (var j = 0; j < 16; j++)
            {
                bits[j] = (ushort)(i + j);
            }

            fixed (ushort* p = bits)
            {
                var converted = FloatKernels.Half16(p);
                for (var j = 0; j < 16; j++)
                {
                    var expected = (float)BitConverter.UInt16BitsToHalf(bits[j]);
                    if (float.IsFinite(expected))
                    {
                        Assert.Equal(expected, converted.GetElement(j));
                    }
                }
            }
        }
    }

    [Fact]
    public void RoundToHalf_MatchesConversionThroughHalf()
    {
        var rng = new Random(5);
        var values = new List<float> { 0f, -0f, 65504f, 65519.99f, 65520f, 1e6f, -1e6f, 6.1e-5f, 6.09e-5f, 5.96e-8f, 2.98e-8f, 2.99e-8f, 1e-9f, float.PositiveInfinity, float.NegativeInfinity };
        for (var i = 0; i < 100_000; i++)
        {
            values.Add(BitConverter.Int32BitsToSingle(rng.Next()) * (rng.Next(2) == 0 ? 1 : -1));
            values.Add((float)(rng.NextDouble() - 0.5) * MathF.Pow(2, rng.Next(-30, 20)));
        }

        values.RemoveAll(float.IsNaN);
        while (values.Count % 16 != 0)
        {
            values.Add(1f);
        }

        for (var i = 0; i < values.Count; i += 16)
        {
            var v = System.Runtime.Intrinsics.Vector512.Create(values.GetRange(i, 16).ToArray());
            var r = GgmlFloat.RoundToHalf(v);
            for (var j = 0; j < 16; j++)
            {
                Assert.Equal((float)(Half)values[i + j], r.GetElement(j));
            }
        }
    }

    /// <summary>W (rows × n, random, stored as <paramref name="type"/>) times <paramref name="batch"/> random activation rows.</summary>
    private static float[] Multiply(GgmlType type, int n, int rows, int batch, bool simd, MatMulOp order, out double[] reference)
    {
        var w = new float[rows * n];
        for (var r = 0; r < rows; r++)
        {
            RandomRow(n, 100 + r).CopyTo(w, r * n);
        }

        var x = new float[batch * n];
        for (var b = 0; b < batch; b++)
        {
            RandomRow(n, 200 + b).CopyTo(x, b * n);
        }

        return Multiply(type, w, x, n, rows, batch, simd, order, out reference);
    }

    /// <summary>W (<paramref name="w"/>, rows × n, stored as <paramref name="type"/>) times the activation rows <paramref name="x"/>.</summary>
    private static float[] Multiply(GgmlType type, float[] w, float[] x, int n, int rows, int batch, bool simd, MatMulOp order, out double[] reference)
    {
        var bytes = Quantizer.Quantize(type, w, n);
        var y = new float[batch * rows];
        reference = new double[batch * rows];
        var path = Path.Combine(Path.GetTempPath(), $"quant-{Guid.NewGuid():N}.gguf");
        try
        {
            new GgufWriter().AddTensor("w", type, [(ulong)n, (ulong)rows], bytes).Write(path);
            using var file = GgufFile.Open(path);
            var matrix = new Matrix(file, file.FindTensor("w")!, simd);
            using var act = new Activations(batch * n);
            var wd = new float[n];
            fixed (float* xp = x)
            fixed (float* yp = y)
            {
                act.SetSource(xp, batch, n);
                act.Prepare(matrix.Kind);
                matrix.Kernel.Rows(matrix, act, 0, batch, 0, rows, yp, rows, order);
                for (var r = 0; r < rows; r++)
                {
                    Dequantizer.Row(type, bytes.AsSpan(r * (int)matrix.RowBytes, (int)matrix.RowBytes), wd);
                    for (var b = 0; b < batch; b++)
                    {
                        reference[(b * rows) + r] = Reference(wd, act, matrix.Kind, b, n);
                    }
                }
            }
        }
        finally
        {
            File.Delete(path);
        }

        return y;
    }

    /// <summary>The product in double, with the activation in the form the kernel sees (rounded or quantized).</summary>
    private static double Reference(float[] wd, Activations act, ActivationKind kind, int row, int n)
    {
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            var k = (row * n) + i;
            double xv = kind switch
            {
                ActivationKind.Q8_0 or ActivationKind.Q8_1 => act.Q[k] * (double)act.D[k / 32],
                ActivationKind.Q8_K or ActivationKind.Q8_KPaired => act.QK[k] * (double)act.DK[k / 256],
                _ => act.Floats(kind, row)[i],
            };
            sum += wd[i] * xv;
        }

        return sum;
    }

    internal static float[] RandomRow(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (var i = 0; i < n; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2) - 1) * (i % 7 == 0 ? 3f : 1f);
        }

        return x;
    }
}
