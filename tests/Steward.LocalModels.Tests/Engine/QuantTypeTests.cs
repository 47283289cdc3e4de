using System.Runtime.Intrinsics;
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
    public void Dot_ScalarAndSimd_MatchReference(uint typeNumber, float bound)
    {
        var type = (GgmlType)typeNumber;
        _ = bound;
        const int n = 512;
        for (var seed = 0; seed < 5; seed++)
        {
            var w = RandomRow(n, seed: 100 + seed);
            var x = RandomRow(n, seed: 200 + seed);
            var bytes = Quantizer.Quantize(type, w, n);
            var wd = new float[n];
            Dequantizer.Row(type, bytes, wd);
            using var act = new QuantizedActivations(n);
            fixed (float* xp = x)
            fixed (byte* wp = bytes)
            {
                act.SetSource(xp, 1, n);
                var kind = ActivationKinds.For(type);
                act.Prepare(kind);
                var reference = Reference(wd, act, kind, n);
                var scalar = DotKernels.Get(type, simd: false).Fn(wp, act.Floats(kind, 0), act.Q, act.D, act.S, n);
                var tolerance = 1e-4 * (Math.Abs(reference) + Magnitude(wd, x));
                Assert.True(Math.Abs(scalar - reference) <= tolerance, $"{type} scalar {scalar} vs reference {reference}");
                if (DotKernels.SimdSupported)
                {
                    var simd = DotKernels.Get(type, simd: true).Fn(wp, act.Floats(kind, 0), act.Q, act.D, act.S, n);
                    Assert.True(Math.Abs(simd - reference) <= tolerance, $"{type} SIMD {simd} vs reference {reference}");
                }
            }
        }
    }

    [Theory]
    [InlineData((uint)GgmlType.F32)]
    [InlineData((uint)GgmlType.F16)]
    [InlineData((uint)GgmlType.BF16)]
    public void Dot_FloatTypesWithRaggedLength_HandleTail(uint typeNumber)
    {
        var type = (GgmlType)typeNumber;
        const int n = 172; // stories260K's n_ff: not a multiple of 8 or 32
        var w = RandomRow(n, 7);
        var x = RandomRow(n, 8);
        var bytes = Quantizer.Quantize(type, w, n);
        var wd = new float[n];
        Dequantizer.Row(type, bytes, wd);
        using var act = new QuantizedActivations(n);
        fixed (float* xp = x)
        fixed (byte* wp = bytes)
        {
            act.SetSource(xp, 1, n);
            var kind = ActivationKinds.For(type);
            act.Prepare(kind);
            var reference = Reference(wd, act, kind, n);
            foreach (var simd in new[] { false, true })
            {
                var r = DotKernels.Get(type, simd).Fn(wp, act.Floats(kind, 0), act.Q, act.D, act.S, n);
                Assert.Equal(reference, r, 1e-3);
            }
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

    [Theory]
    [InlineData((uint)GgmlType.Q8_0, 576)]
    [InlineData((uint)GgmlType.F16, 576)]
    [InlineData((uint)GgmlType.F16, 172)]
    [InlineData((uint)GgmlType.Q4_0, 576)]
    [InlineData((uint)GgmlType.Q4_K, 512)]
    [InlineData((uint)GgmlType.Q6_K, 512)]
    public void Dot4_FourActivationRows_MatchSingleRowKernel(uint typeNumber, int n)
    {
        var type = (GgmlType)typeNumber;
        var kernel4 = DotKernels.Get4(type, simd: true);
        if (kernel4.Fn == null)
        {
            Assert.Skip("No four-row kernel on this machine.");
        }

        var w = Quantizer.Quantize(type, RandomRow(n, 5), n);
        var x = new float[4 * n];
        for (var k = 0; k < 4; k++)
        {
            RandomRow(n, 50 + k).CopyTo(x, k * n);
        }

        using var act = new QuantizedActivations(4 * n);
        var results = new float[4];
        fixed (float* xp = x)
        fixed (byte* wp = w)
        fixed (float* rp = results)
        {
            act.SetSource(xp, 4, n);
            var kind = ActivationKinds.For(type);
            act.Prepare(kind);
            kernel4.Fn(wp, act.Floats(kind, 0), act.Q, act.QU, act.D, act.S, n, n, rp);
            var single = DotKernels.Get(type, simd: true);
            for (var k = 0; k < 4; k++)
            {
                var expected = single.Fn(wp, act.Floats(kind, k), act.Q + (k * n), act.D + (k * n / 32), act.S + (k * n / 16), n);
                Assert.Equal(expected, results[k], 1e-3f);
            }
        }
    }

    [Fact]
    public void QuantizeQ8_VectorPath_MatchesScalarFormula()
    {
        const int n = 1024;
        var x = RandomRow(n, 11);
        x[3] = 0;
        Array.Clear(x, 64, 32); // an all-zero block
        using var act = new QuantizedActivations(n);
        fixed (float* xp = x)
        {
            act.SetSource(xp, 1, n);
            act.Prepare(ActivationKind.Q8);
            for (var b = 0; b < n / 32; b++)
            {
                var amax = x.AsSpan(b * 32, 32).ToArray().Max(MathF.Abs);
                Assert.Equal((float)(Half)(amax / 127f), act.D[b]);
                var id = amax != 0 ? 127f / amax : 0f;
                int s0 = 0, s1 = 0;
                for (var j = 0; j < 32; j++)
                {
                    var expected = (int)MathF.Round(x[(b * 32) + j] * id);
                    Assert.Equal(expected, act.Q[(b * 32) + j]);
                    if (j < 16)
                    {
                        s0 += expected;
                    }
                    else
                    {
                        s1 += expected;
                    }
                }

                Assert.Equal(s0, act.S[2 * b]);
                Assert.Equal(s1, act.S[(2 * b) + 1]);
            }
        }
    }

    [Fact]
    public void FiniteHalfToSingle_EveryFiniteHalf_MatchesSystemHalf()
    {
        if (!DotKernels.SimdSupported)
        {
            Assert.Skip("No AVX2 on this machine.");
        }

        var bits = new short[8];
        for (var i = 0; i < 65536; i += 8)
        {
            for (var j = 0; j < 8; j++)
            {
                bits[j] = (short)(i + j);
            }

            fixed (short* p = bits)
            {
                var converted = DotKernels.FiniteHalfToSingle(System.Runtime.Intrinsics.X86.Sse2.LoadVector128(p));
                for (var j = 0; j < 8; j++)
                {
                    var expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits[j]);
                    if (float.IsFinite(expected))
                    {
                        Assert.Equal(expected, converted.GetElement(j));
                    }
                }
            }
        }
    }

    private static double Reference(float[] wd, QuantizedActivations act, ActivationKind kind, int n)
    {
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            var xv = kind == ActivationKind.Q8 ? act.Q[i] * act.D[i / 32] : act.Floats(kind, 0)[i];
            sum += (double)wd[i] * xv;
        }

        return sum;
    }

    private static double Magnitude(float[] a, float[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += Math.Abs((double)a[i] * b[i]);
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
