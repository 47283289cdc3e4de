using System.Text;

namespace Steward.LocalModels.Tokenization;

/// <summary>
/// Incremental detokenizer for streaming generation: each token's bytes go through one UTF-8 decoder, so a
/// character split over several byte tokens (<c>&lt;0xE2&gt;&lt;0x96&gt;&lt;0x81&gt;</c>, or byte-level BPE pieces)
/// comes out whole once its last byte arrives. Not thread-safe: one instance per generation.
/// </summary>
internal sealed class TokenStreamDecoder
{
    private readonly Func<int, ReadOnlyMemory<byte>> _tokenBytes;
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];
    private bool _stripLeadingSpace;

    internal TokenStreamDecoder(Func<int, ReadOnlyMemory<byte>> tokenBytes, bool stripLeadingSpace = false)
    {
        _tokenBytes = tokenBytes;
        _stripLeadingSpace = stripLeadingSpace;
    }

    /// <summary>Adds one token and returns the text it completes (empty while a character is still incomplete).</summary>
    public string Append(int id)
    {
        var bytes = _tokenBytes(id).Span;
        if (_stripLeadingSpace && bytes.Length > 0)
        {
            _stripLeadingSpace = false;
            if (bytes[0] == (byte)' ')
            {
                bytes = bytes[1..];
            }
        }

        return DecodeBytes(bytes, flush: false);
    }

    /// <summary>Returns whatever is pending; incomplete bytes at the end become U+FFFD.</summary>
    public string Flush() => DecodeBytes([], flush: true);

    private string DecodeBytes(ReadOnlySpan<byte> bytes, bool flush)
    {
        var needed = _decoder.GetCharCount(bytes, flush);
        if (needed == 0 && !flush)
        {
            // GetCharCount does not consume: feed the bytes so the decoder keeps the partial sequence.
            _decoder.GetChars(bytes, _chars, flush: false);
            return string.Empty;
        }

        if (_chars.Length < needed)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }

        var written = _decoder.GetChars(bytes, _chars, flush);
        return new string(_chars, 0, written);
    }
}
