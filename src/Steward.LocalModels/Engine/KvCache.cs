using System.Runtime.InteropServices;

namespace Steward.LocalModels.Engine;

/// <summary>
/// The fp16 key/value cache: one region per slot (a sequence being generated), laid out [layer][position][kv dim].
/// Memory is reserved, not touched: the operating system commits pages as positions are written, so a long context
/// costs memory only as it is used, and nothing reads a position before it is written.
/// </summary>
internal sealed unsafe class KvCache : IDisposable
{
    private readonly Half*[] _k;
    private readonly Half*[] _v;
    private readonly long _layerStride;
    private bool _disposed;

    public KvCache(int slots, int layers, int context, int kvDim)
    {
        Slots = slots;
        Context = context;
        KvDim = kvDim;
        _layerStride = (long)context * kvDim;
        _k = new Half*[slots];
        _v = new Half*[slots];
        var bytes = (nuint)(layers * _layerStride * sizeof(Half));
        for (var s = 0; s < slots; s++)
        {
            _k[s] = (Half*)NativeMemory.AlignedAlloc(bytes, 4096);
            _v[s] = (Half*)NativeMemory.AlignedAlloc(bytes, 4096);
        }
    }

    public int Slots { get; }

    public int Context { get; }

    public int KvDim { get; }

    /// <summary>Bytes of cache one position takes in one slot (keys and values, every layer).</summary>
    public static long BytesPerPosition(int layers, int kvDim) => 2L * layers * kvDim * sizeof(Half);

    public Half* K(int slot, int layer) => _k[slot] + (layer * _layerStride);

    public Half* V(int slot, int layer) => _v[slot] + (layer * _layerStride);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        for (var s = 0; s < Slots; s++)
        {
            NativeMemory.AlignedFree(_k[s]);
            NativeMemory.AlignedFree(_v[s]);
        }
    }
}
