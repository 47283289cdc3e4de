using System.Text;
using Steward.LocalModels.Engine.Numerics;

namespace Steward.LocalModels.Gguf;

/// <summary>
/// Writes GGUF v3 (or v2) files: metadata in insertion order, then tensor headers, then aligned tensor data.
/// Used by tests and the benchmark to build small models; float tensors are quantized with the reference
/// quantizers in <see cref="Quantizer"/>. Not thread-safe.
/// </summary>
internal sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly List<(string Name, ulong[] Dims, GgmlType Type, long Length, Func<byte[]> Data)> _tensors = [];

    public GgufWriter(uint version = 3, int alignment = 32)
    {
        if (version is not (2 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, "GGUF version must be 2 or 3.");
        }

        Version = version;
        Alignment = alignment;
        if (alignment != 32)
        {
            Add("general.alignment", (uint)alignment);
        }
    }

    public uint Version { get; }

    public int Alignment { get; }

    public GgufWriter Add(string key, GgufValue value)
    {
        _metadata.RemoveAll(kv => kv.Key == key);
        _metadata.Add(new(key, value));
        return this;
    }

    public GgufWriter Add(string key, string value) => Add(key, GgufValue.Of(value));

    public GgufWriter Add(string key, uint value) => Add(key, GgufValue.Of(value));

    public GgufWriter Add(string key, int value) => Add(key, GgufValue.Of(value));

    public GgufWriter Add(string key, float value) => Add(key, GgufValue.Of(value));

    public GgufWriter Add(string key, bool value) => Add(key, GgufValue.Of(value));

    public GgufWriter Add(string key, string[] value) => Add(key, GgufValue.Of(value));

    public GgufWriter Add(string key, float[] value) => Add(key, GgufValue.Of(value));

    public GgufWriter Add(string key, int[] value) => Add(key, GgufValue.Of(value));

    /// <summary>Adds a tensor whose bytes are already in <paramref name="type"/>'s layout. Dimensions in ggml order.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, ulong[] dimensions, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var expected = ExpectedBytes(type, dimensions);
        if (data.LongLength != expected)
        {
            throw new ArgumentException($"Tensor '{name}' of type {type} needs {expected} bytes, got {data.LongLength}.", nameof(data));
        }

        _tensors.Add((name, dimensions, type, expected, () => data));
        return this;
    }

    /// <summary>Adds a float tensor, quantizing it row by row to <paramref name="type"/>.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, ulong[] dimensions, float[] values)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        return AddTensor(name, type, dimensions, Quantizer.Quantize(type, values, (int)dimensions[0]));
    }

    /// <summary>
    /// Adds a tensor whose bytes <paramref name="produce"/> makes when the file is written, so a large model is
    /// never held in memory whole.
    /// </summary>
    public GgufWriter AddTensor(string name, GgmlType type, ulong[] dimensions, Func<byte[]> produce)
    {
        ArgumentNullException.ThrowIfNull(produce);
        _tensors.Add((name, dimensions, type, ExpectedBytes(type, dimensions), produce));
        return this;
    }

    /// <summary>
    /// Adds a tensor header with whatever dimensions and bytes it is given, unchecked: for writing malformed files
    /// (tests of the reader's validation).
    /// </summary>
    public GgufWriter AddRawTensor(string name, GgmlType type, ulong[] dimensions, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        _tensors.Add((name, dimensions, type, data.LongLength, () => data));
        return this;
    }

    private static long ExpectedBytes(GgmlType type, ulong[] dimensions)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        ulong elements = 1;
        foreach (var d in dimensions)
        {
            elements *= d;
        }

        return GgmlTypeInfo.RowBytes(type, (long)dimensions[0]) * (long)(elements / dimensions[0]);
    }

    public void Write(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Write(stream);
    }

    public void Write(Stream stream)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(0x46554747u);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }

        ulong offset = 0;
        var offsets = new ulong[_tensors.Count];
        for (var i = 0; i < _tensors.Count; i++)
        {
            offsets[i] = offset;
            offset = Align(offset + (ulong)_tensors[i].Length);
        }

        for (var i = 0; i < _tensors.Count; i++)
        {
            var (name, dims, type, _, _) = _tensors[i];
            WriteString(w, name);
            w.Write((uint)dims.Length);
            foreach (var d in dims)
            {
                w.Write(d);
            }

            w.Write((uint)type);
            w.Write(offsets[i]);
        }

        w.Flush();
        Pad(w, stream.Position);
        for (var i = 0; i < _tensors.Count; i++)
        {
            var data = _tensors[i].Data();
            if (data.LongLength != _tensors[i].Length)
            {
                throw new InvalidOperationException($"Tensor '{_tensors[i].Name}' produced {data.LongLength} bytes, {_tensors[i].Length} expected.");
            }

            w.Write(data);
            Pad(w, data.LongLength);
        }
    }

    private ulong Align(ulong n) => (n + (ulong)Alignment - 1) / (ulong)Alignment * (ulong)Alignment;

    private void Pad(BinaryWriter w, long written)
    {
        var padding = (long)Align((ulong)written) - written;
        for (var i = 0; i < padding; i++)
        {
            w.Write((byte)0);
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue value)
    {
        if (value.Type != GgufValueType.Array)
        {
            WriteScalar(w, value.Value);
            return;
        }

        var array = (Array)value.Value;
        w.Write((uint)(value.ElementType ?? throw new ArgumentException("An array value needs its ElementType.", nameof(value))));
        w.Write((ulong)array.Length);
        foreach (var item in array)
        {
            if (item is GgufValue nested)
            {
                w.Write((uint)(nested.ElementType ?? throw new ArgumentException("A nested array needs its ElementType.", nameof(value))));
                var inner = (Array)nested.Value;
                w.Write((ulong)inner.Length);
                foreach (var x in inner)
                {
                    WriteScalar(w, x!);
                }
            }
            else
            {
                WriteScalar(w, item!);
            }
        }
    }

    private static void WriteScalar(BinaryWriter w, object value)
    {
        switch (value)
        {
            case byte v: w.Write(v); break;
            case sbyte v: w.Write(v); break;
            case ushort v: w.Write(v); break;
            case short v: w.Write(v); break;
            case uint v: w.Write(v); break;
            case int v: w.Write(v); break;
            case float v: w.Write(v); break;
            case bool v: w.Write((byte)(v ? 1 : 0)); break;
            case string v: WriteString(w, v); break;
            case ulong v: w.Write(v); break;
            case long v: w.Write(v); break;
            case double v: w.Write(v); break;
            default: throw new ArgumentException($"Cannot write a {value.GetType()} as a GGUF value.", nameof(value));
        }
    }
}
