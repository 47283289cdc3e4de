using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;

namespace Steward.LocalModels.Gguf;

/// <summary>
/// A GGUF v2/v3 file opened over a read-only memory map, or read whole into memory of its own (<c>resident</c>).
/// Metadata and tensor headers are parsed once at <see cref="Open"/>; <see cref="GetTensorBytes"/> and
/// <see cref="GetTensorPointer"/> point into the mapping or that memory, which stays valid until <see cref="Dispose"/>.
/// Thread-safe for reading.
/// </summary>
internal sealed unsafe class GgufFile : IDisposable
{
    private const uint Magic = 0x46554747; // "GGUF" little-endian
    private const int DefaultAlignment = 32;

    /// <summary>The size of a transparent huge page on x64 and arm64 Linux: resident files are aligned to it.</summary>
    private const int HugePage = 2 << 20;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly Dictionary<string, GgufTensorInfo> _byName;
    private byte* _base;

    private GgufFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePtr;
        var reader = new Reader(path, basePtr, length);
        var magic = reader.UInt32();
        if (magic != Magic)
        {
            throw Error(path, $"bad magic 0x{magic:X8} (expected \"GGUF\"); not a GGUF file");
        }

        Version = reader.UInt32();
        if (Version is not (2 or 3))
        {
            throw Error(path, $"unsupported GGUF version {Version} (supported: 2, 3)");
        }

        var tensorCount = reader.UInt64();
        var kvCount = reader.UInt64();
        if (tensorCount > (ulong)length || kvCount > (ulong)length)
        {
            throw Error(path, $"corrupt header: {tensorCount} tensors and {kvCount} metadata entries cannot fit in {length} bytes");
        }

        var metadata = new Dictionary<string, GgufValue>((int)kvCount, StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            var key = reader.String();
            var type = (GgufValueType)reader.UInt32();
            metadata[key] = reader.Value(type, key, depth: 0);
        }

        Metadata = metadata;
        var alignment = DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var a) && a.AsInteger() is { } al)
        {
            if (al <= 0 || (al & (al - 1)) != 0)
            {
                throw Error(path, $"general.alignment {al} is not a positive power of two");
            }

            alignment = (int)al;
        }

        var raw = new List<(string Name, ulong[] Dims, GgmlType Type, ulong Offset)>((int)tensorCount);
        for (ulong i = 0; i < tensorCount; i++)
        {
            var name = reader.String();
            var nDims = reader.UInt32();
            if (nDims is 0 or > 4)
            {
                throw Error(path, $"tensor '{name}' has {nDims} dimensions (ggml allows 1 to 4)");
            }

            var dims = new ulong[nDims];
            for (var d = 0; d < nDims; d++)
            {
                dims[d] = reader.UInt64();
            }

            var typeNumber = reader.UInt32();
            var type = (GgmlType)typeNumber;
            if (!Enum.IsDefined(type) || !GgmlTypeInfo.TryGetBlock(type, out _, out _))
            {
                throw Error(path, $"unknown tensor type {typeNumber} for tensor '{name}'");
            }

            raw.Add((name, dims, type, reader.UInt64()));
        }

        var dataStart = (reader.Position + alignment - 1) / alignment * alignment;
        var tensors = new List<GgufTensorInfo>(raw.Count);
        _byName = new Dictionary<string, GgufTensorInfo>(raw.Count, StringComparer.Ordinal);
        foreach (var (name, dims, type, relOffset) in raw)
        {
            GgmlTypeInfo.TryGetBlock(type, out var blockElements, out var blockBytes);
            UInt128 elements = 1;
            foreach (var d in dims)
            {
                // Checked one dimension at a time: the product stays below 2^127 before the test.
                elements *= d;
                if (elements > long.MaxValue)
                {
                    throw Error(path, $"tensor '{name}' declares dimensions [{string.Join(", ", dims)}], more elements than any file can hold");
                }
            }

            if (dims[0] % (ulong)blockElements != 0)
            {
                throw Error(path, $"tensor '{name}' of type {type} has a row length {dims[0]} that is not a multiple of its {blockElements}-element block");
            }

            var size = elements / (ulong)blockElements * (ulong)blockBytes;
            var offset = (UInt128)(ulong)dataStart + relOffset;
            if (offset + size > (ulong)length)
            {
                throw Error(path, $"truncated at offset {length}: tensor '{name}' of dimensions [{string.Join(", ", dims)}] needs bytes {offset}..{offset + size}");
            }

            var bytes = (long)size;

            var info = new GgufTensorInfo(name, dims, type, (long)offset, bytes);
            tensors.Add(info);
            if (!_byName.TryAdd(name, info))
            {
                throw Error(path, $"duplicate tensor name '{name}'");
            }
        }

        Tensors = tensors;
    }

    public string Path { get; }

    public uint Version { get; }

    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }

    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>
    /// Opens and parses <paramref name="path"/>. <paramref name="resident"/> reads the whole file into memory of the
    /// process's own, asked to be backed by 2 MiB pages (Linux's transparent huge pages), instead of mapping it: a model
    /// generating reads every weight once per token, and through 4 KiB pages of a mapping the address translations alone
    /// cost a token 8-20% (Qwen2.5-0.5B Q8_0, one thread: 25-27 ms a token mapped, 20-22 ms resident). It is read, not
    /// copied from a mapping, so the file's pages never count twice in the process's memory.
    /// </summary>
    /// <exception cref="GgufFormatException">The file is not a valid GGUF v2/v3 file.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static GgufFile Open(string path, bool resident = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = System.IO.Path.GetFullPath(path);
        var length = new FileInfo(full).Length; // throws FileNotFoundException for a missing file
        if (length < 24)
        {
            throw Error(full, $"truncated at offset {length}: a GGUF header needs at least 24 bytes");
        }

        if (resident)
        {
            return OpenResident(full, length);
        }

        var map = MemoryMappedFile.CreateFromFile(full, FileMode.Open, mapName: null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        var acquired = false;
        try
        {
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            p += view.PointerOffset;
            return new GgufFile(full, map, view, p, length);
        }
        catch
        {
            if (acquired)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }

            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    private static GgufFile OpenResident(string path, long length)
    {
        var bytes = (nuint)((length + HugePage - 1) / HugePage * HugePage);
        var memory = (byte*)NativeMemory.AlignedAlloc(bytes, HugePage);
        try
        {
            if (OperatingSystem.IsLinux())
            {
                // Advice only: where huge pages are off the memory is ordinary pages, as fast as the mapping was.
                _ = LinuxMemory.Madvise(memory, bytes, LinuxMemory.HugePageAdvice);
            }

            using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                for (long done = 0; done < length;)
                {
                    var read = RandomAccess.Read(handle, new Span<byte>(memory + done, (int)Math.Min(length - done, 1 << 30)), done);
                    if (read == 0)
                    {
                        throw Error(path, $"truncated at offset {done}: the file ended while it was being read ({length} bytes expected)");
                    }

                    done += read;
                }
            }

            return new GgufFile(path, null, null, memory, length);
        }
        catch
        {
            NativeMemory.AlignedFree(memory);
            throw;
        }
    }

    public GgufTensorInfo? FindTensor(string name) => _byName.GetValueOrDefault(name);

    public string? GetString(string key) => Metadata.TryGetValue(key, out var v) ? v.Value as string : null;

    public long? GetInteger(string key) => Metadata.TryGetValue(key, out var v) ? v.AsInteger() : null;

    public float? GetSingle(string key) => Metadata.TryGetValue(key, out var v)
        ? v.Value switch { float f => f, double d => (float)d, _ => v.AsInteger() is { } i ? i : null }
        : null;

    public bool? GetBoolean(string key) => Metadata.TryGetValue(key, out var v) && v.Value is bool b ? b : null;

    public string[]? GetStringArray(string key) => Metadata.TryGetValue(key, out var v) ? v.Value as string[] : null;

    public float[]? GetSingleArray(string key)
    {
        if (!Metadata.TryGetValue(key, out var v))
        {
            return null;
        }

        return v.Value switch
        {
            float[] f => f,
            double[] d => Array.ConvertAll(d, x => (float)x),
            _ => null,
        };
    }

    /// <summary>Any integer array, widened or narrowed to int (values outside int range make it null).</summary>
    public int[]? GetInt32Array(string key)
    {
        if (!Metadata.TryGetValue(key, out var v))
        {
            return null;
        }

        return v.Value switch
        {
            int[] i => i,
            uint[] u => u.All(x => x <= int.MaxValue) ? Array.ConvertAll(u, x => (int)x) : null,
            short[] s => Array.ConvertAll(s, x => (int)x),
            ushort[] s => Array.ConvertAll(s, x => (int)x),
            sbyte[] s => Array.ConvertAll(s, x => (int)x),
            byte[] s => Array.ConvertAll(s, x => (int)x),
            long[] l => l.All(x => x is >= int.MinValue and <= int.MaxValue) ? Array.ConvertAll(l, x => (int)x) : null,
            ulong[] l => l.All(x => x <= int.MaxValue) ? Array.ConvertAll(l, x => (int)x) : null,
            _ => null,
        };
    }

    /// <summary>Zero-copy view of a tensor's data (tensors up to 2 GiB; use <see cref="GetTensorPointer"/> beyond).</summary>
    public ReadOnlySpan<byte> GetTensorBytes(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.ByteLength > int.MaxValue)
        {
            throw new NotSupportedException($"Tensor '{tensor.Name}' is {tensor.ByteLength} bytes; use GetTensorPointer for tensors over 2 GiB.");
        }

        return new ReadOnlySpan<byte>(GetTensorPointer(tensor), (int)tensor.ByteLength);
    }

    /// <summary>Pointer to a tensor's first byte inside the mapping; valid until the file is disposed.</summary>
    public byte* GetTensorPointer(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ObjectDisposedException.ThrowIf(_base == null, this);
        return _base + tensor.Offset;
    }

    public void Dispose()
    {
        if (_base != null)
        {
            if (_map is null)
            {
                NativeMemory.AlignedFree(_base);
            }
            else
            {
                _view!.SafeMemoryMappedViewHandle.ReleasePointer();
                _view.Dispose();
                _map!.Dispose();
            }

            _base = null;
        }
    }

    private static GgufFormatException Error(string path, string problem) =>
        new($"GGUF file '{path}': {problem}.") { FilePath = path };

    /// <summary>Bounds-checked little-endian cursor over the header; every overrun reports the offset.</summary>
    private struct Reader(string path, byte* basePtr, long length)
    {
        public long Position { get; private set; }

        private byte* Take(long n, string what)
        {
            if (n < 0 || Position + n > length)
            {
                throw Error(path, $"truncated at offset {Position}: reading {what} needs {n} bytes but the file has {length}");
            }

            var p = basePtr + Position;
            Position += n;
            return p;
        }

        public uint UInt32() => *(uint*)Take(4, "uint32");

        public ulong UInt64() => *(ulong*)Take(8, "uint64");

        public string String()
        {
            var n = UInt64();
            if (n > (ulong)(length - Position))
            {
                throw Error(path, $"truncated at offset {Position}: a string of {n} bytes runs past the end of the file");
            }

            var p = Take((long)n, "string");
            return Encoding.UTF8.GetString(p, (int)n);
        }

        public GgufValue Value(GgufValueType type, string key, int depth)
        {
            switch (type)
            {
                case GgufValueType.UInt8: return new(type, *Take(1, key));
                case GgufValueType.Int8: return new(type, *(sbyte*)Take(1, key));
                case GgufValueType.UInt16: return new(type, *(ushort*)Take(2, key));
                case GgufValueType.Int16: return new(type, *(short*)Take(2, key));
                case GgufValueType.UInt32: return new(type, *(uint*)Take(4, key));
                case GgufValueType.Int32: return new(type, *(int*)Take(4, key));
                case GgufValueType.Float32: return new(type, *(float*)Take(4, key));
                case GgufValueType.Bool: return new(type, *Take(1, key) != 0);
                case GgufValueType.String: return new(type, String());
                case GgufValueType.UInt64: return new(type, *(ulong*)Take(8, key));
                case GgufValueType.Int64: return new(type, *(long*)Take(8, key));
                case GgufValueType.Float64: return new(type, *(double*)Take(8, key));
                case GgufValueType.Array:
                    if (depth > 4)
                    {
                        throw Error(path, $"metadata '{key}' nests arrays too deeply");
                    }

                    var elementType = (GgufValueType)UInt32();
                    var count = UInt64();
                    if (count > (ulong)(length - Position))
                    {
                        throw Error(path, $"truncated at offset {Position}: metadata array '{key}' claims {count} elements");
                    }

                    return new(type, ReadArray(elementType, (int)count, key, depth), elementType);
                default:
                    throw Error(path, $"unknown metadata value type {(uint)type} for key '{key}' at offset {Position - 4}");
            }
        }

        private object ReadArray(GgufValueType elementType, int count, string key, int depth)
        {
            switch (elementType)
            {
                case GgufValueType.UInt8: return Copy<byte>(count, key);
                case GgufValueType.Int8: return Copy<sbyte>(count, key);
                case GgufValueType.UInt16: return Copy<ushort>(count, key);
                case GgufValueType.Int16: return Copy<short>(count, key);
                case GgufValueType.UInt32: return Copy<uint>(count, key);
                case GgufValueType.Int32: return Copy<int>(count, key);
                case GgufValueType.Float32: return Copy<float>(count, key);
                case GgufValueType.UInt64: return Copy<ulong>(count, key);
                case GgufValueType.Int64: return Copy<long>(count, key);
                case GgufValueType.Float64: return Copy<double>(count, key);
                case GgufValueType.Bool:
                    {
                        var src = Take(count, key);
                        var result = new bool[count];
                        for (var i = 0; i < count; i++)
                        {
                            result[i] = src[i] != 0;
                        }

                        return result;
                    }

                case GgufValueType.String:
                    {
                        var result = new string[count];
                        for (var i = 0; i < count; i++)
                        {
                            result[i] = String();
                        }

                        return result;
                    }

                case GgufValueType.Array:
                    {
                        var result = new GgufValue[count];
                        for (var i = 0; i < count; i++)
                        {
                            result[i] = Value(GgufValueType.Array, key, depth + 1);
                        }

                        return result;
                    }

                default:
                    throw Error(path, $"unknown array element type {(uint)elementType} for key '{key}' at offset {Position - 12}");
            }
        }

        private T[] Copy<T>(int count, string key)
            where T : unmanaged
        {
            var src = Take((long)count * sizeof(T), key);
            return new ReadOnlySpan<T>(src, count).ToArray();
        }
    }
}
