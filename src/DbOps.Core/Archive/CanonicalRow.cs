using System.Buffers.Binary;

namespace DbOps.Core.Archive;

/// <summary>The storage class of one value in a <see cref="CanonicalRow"/>.</summary>
internal enum ValueTag : byte
{
    /// <summary>SQL NULL: encoded as this one byte, with no length and no bytes.</summary>
    Null = 0,
    /// <summary>Text: PostgreSQL's text output of any type, or a SQLite TEXT value, as UTF-8.</summary>
    Text = 1,
    /// <summary>SQLite INTEGER, as invariant decimal digits.</summary>
    Integer = 2,
    /// <summary>SQLite REAL, as .NET's shortest round-trip text ("R"), e.g. 1.5, 1E+20, Infinity.</summary>
    Real = 3,
    /// <summary>SQLite BLOB, its raw bytes.</summary>
    Blob = 4,
}

/// <summary>
/// One row in the canonical encoding that <see cref="TableChecksum"/> hashes (format 1). Each value, in column
/// order, is a tag byte (<see cref="ValueTag"/>); a non-null value follows it with its length as a 4-byte
/// little-endian integer and then its bytes. The same encoding is built from the live table and from the archive
/// file, so the checksum does not depend on how a file quotes or escapes its values. The buffer is reused row
/// after row, so reading a table does not allocate per row.
/// </summary>
internal sealed class CanonicalRow
{
    private byte[] _buffer = new byte[1024];
    private int _length;
    private int _open = -1;
    private int _last;

    /// <summary>The values added since <see cref="Clear"/>.</summary>
    public int FieldCount { get; private set; }

    /// <summary>The encoded row.</summary>
    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, _length);

    public void Clear()
    {
        _length = 0;
        FieldCount = 0;
        _open = -1;
    }

    public void AddNull()
    {
        Ensure(1);
        _last = _length;
        _buffer[_length++] = (byte)ValueTag.Null;
        FieldCount++;
    }

    public void Add(ValueTag tag, ReadOnlySpan<byte> value)
    {
        Ensure(5 + value.Length);
        _last = _length;
        _buffer[_length] = (byte)tag;
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length + 1), value.Length);
        value.CopyTo(_buffer.AsSpan(_length + 5));
        _length += 5 + value.Length;
        FieldCount++;
    }

    /// <summary>Starts a value whose bytes arrive in pieces through Append.</summary>
    public void Begin(ValueTag tag)
    {
        Ensure(5);
        _buffer[_length] = (byte)tag;
        _last = _length;
        _open = _length + 1;
        _length += 5;
    }

    public void Append(ReadOnlySpan<byte> piece)
    {
        Ensure(piece.Length);
        piece.CopyTo(_buffer.AsSpan(_length));
        _length += piece.Length;
    }

    public void Append(byte b)
    {
        Ensure(1);
        _buffer[_length++] = b;
    }

    /// <summary>Closes the value started by <see cref="Begin"/>, writing its length.</summary>
    public void End()
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_open), _length - _open - 4);
        _open = -1;
        FieldCount++;
    }

    /// <summary>The bytes of the value closed last.</summary>
    public ReadOnlySpan<byte> LastValue => _buffer.AsSpan(_last + 5, _length - _last - 5);

    /// <summary>Drops the last <paramref name="count"/> bytes of the value closed last.</summary>
    public void TrimLast(int count)
    {
        _length -= count;
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_last + 1), _length - _last - 5);
    }

    /// <summary>Turns the value closed last into NULL.</summary>
    public void ReplaceLastWithNull()
    {
        _buffer[_last] = (byte)ValueTag.Null;
        _length = _last + 1;
    }

    /// <summary>Replaces the value closed last (the new bytes may be a slice of the old ones).</summary>
    public void ReplaceLast(ValueTag tag, ReadOnlySpan<byte> value)
    {
        var copy = value.ToArray();
        _length = _last;
        FieldCount--;
        Add(tag, copy);
    }

    /// <summary>The values of the row, in order.</summary>
    public Enumerator GetEnumerator() => new(_buffer.AsSpan(0, _length));

    private void Ensure(int more)
    {
        if (_length + more > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
        }
    }

    /// <summary>One value: its tag and bytes (empty for NULL).</summary>
    public readonly ref struct Field(ValueTag tag, ReadOnlySpan<byte> value)
    {
        public ValueTag Tag { get; } = tag;

        public ReadOnlySpan<byte> Value { get; } = value;
    }

    public ref struct Enumerator(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _next;

        public Field Current { get; private set; }

        public bool MoveNext()
        {
            if (_next >= _bytes.Length)
            {
                return false;
            }
            var tag = (ValueTag)_bytes[_next];
            if (tag == ValueTag.Null)
            {
                Current = new Field(tag, default);
                _next++;
                return true;
            }
            var length = BinaryPrimitives.ReadInt32LittleEndian(_bytes[(_next + 1)..]);
            Current = new Field(tag, _bytes.Slice(_next + 5, length));
            _next += 5 + length;
            return true;
        }
    }
}
