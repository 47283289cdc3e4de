using Steward.LocalModels.Gguf;
using Steward.LocalModels.Tests.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.Gguf;

public sealed class GgufFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-tests").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Open_Stories260K_ReadsMetadataAndTensors()
    {
        using var file = GgufFile.Open(TestModels.RequirePath("stories260K.gguf"));

        Assert.Equal(3u, file.Version);
        Assert.Equal("llama", file.GetString("general.architecture"));
        Assert.Equal(64, file.GetInteger("llama.embedding_length"));
        Assert.Equal(5, file.GetInteger("llama.block_count"));
        Assert.Equal(512, file.GetStringArray("tokenizer.ggml.tokens")!.Length);
        Assert.Equal(512, file.GetSingleArray("tokenizer.ggml.scores")!.Length);
        Assert.Equal(512, file.GetInt32Array("tokenizer.ggml.token_type")!.Length);
        var embd = file.FindTensor("token_embd.weight");
        Assert.NotNull(embd);
        Assert.Equal(GgmlType.F32, embd.Type);
        Assert.Equal([64UL, 512UL], embd.Dimensions);
        Assert.Equal(64 * 512 * 4, file.GetTensorBytes(embd).Length);
        Assert.Null(file.FindTensor("nope"));
    }

    [Fact]
    public void Open_QuantizedModel_ReportsTensorTypes()
    {
        using var file = GgufFile.Open(TestModels.RequirePath("stories260K-q4_0.gguf"));

        Assert.Contains(file.Tensors, t => t.Type == GgmlType.Q4_0);
        Assert.Contains(file.Tensors, t => t.Type == GgmlType.F16);
        Assert.All(file.Tensors, t => Assert.True(t.Offset % 32 == 0));
    }

    [Fact]
    public void OpenResident_GivesEveryTensorTheMappedFilesBytes_AndReleasesThemOnDispose()
    {
        var path = TestModels.RequirePath("stories260K-q4_0.gguf");
        using var mapped = GgufFile.Open(path);
        var resident = GgufFile.Open(path, resident: true);

        Assert.Equal(mapped.Tensors.Count, resident.Tensors.Count);
        foreach (var tensor in mapped.Tensors)
        {
            Assert.True(mapped.GetTensorBytes(tensor).SequenceEqual(resident.GetTensorBytes(resident.FindTensor(tensor.Name)!)), tensor.Name);
        }

        Assert.Equal(mapped.GetStringArray("tokenizer.ggml.tokens"), resident.GetStringArray("tokenizer.ggml.tokens"));
        resident.Dispose();
        Assert.Throws<ObjectDisposedException>(() => resident.GetTensorBytes(mapped.Tensors[0]));
    }

    [Fact]
    public void OpenResident_BadFile_NamesTheProblemAsAMappedOpenDoes()
    {
        var path = WriteSmall();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 40)]);

        var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path, resident: true));

        Assert.Contains("truncated at offset", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteThenOpen_RoundTripsEveryValueKind()
    {
        var path = Path.Combine(_dir, "rt.gguf");
        var weights = Enumerable.Range(0, 64).Select(i => i * 0.25f).ToArray();
        new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("a.u32", 7u)
            .Add("a.i32", -3)
            .Add("a.f32", 1.5f)
            .Add("a.bool", true)
            .Add("a.strings", ["x", "yé", ""])
            .Add("a.floats", [1f, 2f])
            .Add("a.ints", [4, 5, 6])
            .Add("a.u8", new GgufValue(GgufValueType.UInt8, (byte)200))
            .Add("a.u64s", new GgufValue(GgufValueType.Array, new ulong[] { 1, 2 }, GgufValueType.UInt64))
            .AddTensor("w", GgmlType.F32, [32, 2], weights)
            .AddTensor("q", GgmlType.Q8_0, [32, 2], weights)
            .Write(path);

        using var file = GgufFile.Open(path);

        Assert.Equal(7, file.GetInteger("a.u32"));
        Assert.Equal(-3, file.GetInteger("a.i32"));
        Assert.Equal(200, file.GetInteger("a.u8"));
        Assert.Equal(1.5f, file.GetSingle("a.f32"));
        Assert.True(file.GetBoolean("a.bool"));
        Assert.Equal(["x", "yé", ""], file.GetStringArray("a.strings")!);
        Assert.Equal([1f, 2f], file.GetSingleArray("a.floats")!);
        Assert.Equal([4, 5, 6], file.GetInt32Array("a.ints")!);
        Assert.Equal([1, 2], file.GetInt32Array("a.u64s")!);
        Assert.Null(file.GetString("missing"));
        var w = file.FindTensor("w")!;
        Assert.Equal(weights, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.GetTensorBytes(w)).ToArray());
        Assert.Equal(2 * 34, file.FindTensor("q")!.ByteLength);
    }

    [Fact]
    public void WriteThenOpen_Version2AndCustomAlignment_RoundTrips()
    {
        var path = Path.Combine(_dir, "v2.gguf");
        new GgufWriter(version: 2, alignment: 64)
            .Add("general.architecture", "llama")
            .AddTensor("a", GgmlType.F16, [8], new float[] { 1, 2, 3, 4, 5, 6, 7, 8 })
            .AddTensor("b", GgmlType.Q4_0, [32, 3], new float[96])
            .Write(path);

        using var file = GgufFile.Open(path);

        Assert.Equal(2u, file.Version);
        Assert.Equal(64, file.GetInteger("general.alignment"));
        Assert.All(file.Tensors, t => Assert.Equal(0, t.Offset % 64));
        Assert.Equal(3 * 18, file.FindTensor("b")!.ByteLength);
    }

    [Fact]
    public void Open_BadMagic_NamesFileAndProblem()
    {
        var path = Path.Combine(_dir, "bad.gguf");
        File.WriteAllBytes(path, new byte[64]);

        var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));

        Assert.Contains("bad magic", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_UnsupportedVersion_NamesVersion()
    {
        var path = WriteSmall();
        var bytes = File.ReadAllBytes(path);
        bytes[4] = 9;
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));

        Assert.Contains("unsupported GGUF version 9", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_Truncated_NamesOffset()
    {
        var path = WriteSmall();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 40)]);

        var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));

        Assert.Contains("truncated at offset", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TruncatedHeader_NamesOffset()
    {
        var path = WriteSmall();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..60]);

        var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));

        Assert.Contains("truncated at offset", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_UnknownTensorType_NamesType()
    {
        var path = WriteSmall();
        var bytes = File.ReadAllBytes(path);
        // The tensor header ends with type (uint32) then offset (uint64); find the F32 type after the tensor name.
        var nameAt = IndexOf(bytes, "w.weight"u8.ToArray());
        var typeAt = nameAt + 8 + 4 + 16;
        BitConverter.TryWriteBytes(bytes.AsSpan(typeAt), 77u);
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));

        Assert.Contains("unknown tensor type 77", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_EmptyFile_Throws()
    {
        var path = Path.Combine(_dir, "empty.gguf");
        File.WriteAllBytes(path, []);

        Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));
    }

    private string WriteSmall()
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".gguf");
        new GgufWriter().Add("general.architecture", "llama").AddTensor("w.weight", GgmlType.F32, [8, 2], new float[16]).Write(path);
        return path;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (var i = 0; i <= haystack.Length - needle.Length; i++)
        {
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle))
            {
                return i;
            }
        }

        return -1;
    }
}
