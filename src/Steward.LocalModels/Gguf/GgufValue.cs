namespace Steward.LocalModels.Gguf;

/// <summary>GGUF metadata value types, numbered as in the GGUF specification.</summary>
internal enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>
/// One metadata value. Scalars are boxed CLR values (byte, sbyte, ushort, short, uint, int, float, bool, string,
/// ulong, long, double); arrays are typed CLR arrays (for example <c>string[]</c>, <c>float[]</c>, <c>int[]</c>) and
/// <see cref="ElementType"/> names their element type. Arrays of arrays are <c>GgufValue[]</c>.
/// </summary>
internal sealed record GgufValue(GgufValueType Type, object Value, GgufValueType? ElementType = null)
{
    public static GgufValue Of(string value) => new(GgufValueType.String, value);

    public static GgufValue Of(uint value) => new(GgufValueType.UInt32, value);

    public static GgufValue Of(int value) => new(GgufValueType.Int32, value);

    public static GgufValue Of(ulong value) => new(GgufValueType.UInt64, value);

    public static GgufValue Of(float value) => new(GgufValueType.Float32, value);

    public static GgufValue Of(bool value) => new(GgufValueType.Bool, value);

    public static GgufValue Of(string[] value) => new(GgufValueType.Array, value, GgufValueType.String);

    public static GgufValue Of(float[] value) => new(GgufValueType.Array, value, GgufValueType.Float32);

    public static GgufValue Of(int[] value) => new(GgufValueType.Array, value, GgufValueType.Int32);

    /// <summary>The value widened to a 64-bit integer when it is any integer type (uint64 above long.MaxValue excepted).</summary>
    public long? AsInteger() => Value switch
    {
        byte v => v,
        sbyte v => v,
        ushort v => v,
        short v => v,
        uint v => v,
        int v => v,
        ulong v when v <= long.MaxValue => (long)v,
        long v => v,
        _ => null,
    };
}
