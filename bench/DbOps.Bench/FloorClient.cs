using System.IO.Hashing;
using System.Security.Cryptography;
using Npgsql;

namespace DbOps.Bench;

/// <summary>
/// The least a .NET client does for each whole-process job, for the process bench to run beside DbOps and the peer:
/// Npgsql and the runtime's start-up, connection and JIT, without pwsh, the module or any of DbOps's checks. What this
/// costs above the peer, no .NET module can avoid on the same machine; what DbOps costs above this is DbOps's own.
/// The connection string comes from DBOPS_BENCH_PG_CONNECTION.
/// </summary>
internal static class FloorClient
{
    public const string Usage = "floor hello|orphan|export|export-hashed <file>";

    public static async Task<int> MainAsync(string[] args)
    {
        var connectionString = Environment.GetEnvironmentVariable("DBOPS_BENCH_PG_CONNECTION");
        switch (args)
        {
            case ["hello"]:
                return 0;
            case ["orphan"]:
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand(
                    "SELECT count(*) FROM orders o WHERE o.customer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)",
                    connection);
                Console.WriteLine(await command.ExecuteScalarAsync());
                return 0;
            }
            case ["export" or "export-hashed", var file]:
                await ExportAsync(connectionString, file, hashed: args[0] == "export-hashed");
                return 0;
            default:
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }

    /// <summary>
    /// COPY's CSV to a file, then fsync, as DbOps reads it (the text export's stream, gathered into large chunks).
    /// Hashed: also XxHash128 of every line and SHA-256 of all bytes, the least a checksummed archive computes (lines
    /// split at every newline, which is right for the bench's table only: it has no quoted newlines).
    /// </summary>
    private static async Task ExportAsync(string? connectionString, string path, bool hashed)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        using var reader = (StreamReader)await connection.BeginTextExportAsync("COPY events TO STDOUT (FORMAT csv, HEADER)");
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var source = reader.BaseStream;
        var buffer = new byte[1 << 18];
        UInt128 sum = 0;
        var carry = 0;
        var ended = false;
        while (!ended)
        {
            if (carry > buffer.Length / 2)
            {
                // A line longer than half the buffer: make room for the rest of it.
                Array.Resize(ref buffer, buffer.Length * 2);
            }
            var filled = carry;
            while (filled < buffer.Length - 4096)
            {
                var read = await source.ReadAsync(buffer.AsMemory(filled));
                if (read == 0)
                {
                    ended = true;
                    break;
                }
                filled += read;
            }
            await file.WriteAsync(buffer.AsMemory(carry, filled - carry));
            if (!hashed)
            {
                continue;
            }
            sha.AppendData(buffer, carry, filled - carry);
            var rest = buffer.AsSpan(0, filled);
            int newline;
            while ((newline = rest.IndexOf((byte)'\n')) >= 0)
            {
                sum += XxHash128.HashToUInt128(rest[..newline]);
                rest = rest[(newline + 1)..];
            }
            // COPY ends every row with a newline, so nothing is left unhashed at the end.
            rest.CopyTo(buffer);
            carry = rest.Length;
        }
        file.Flush(flushToDisk: true);
        Console.WriteLine(hashed ? $"{sum:X} {Convert.ToHexString(sha.GetHashAndReset())}" : "");
    }
}
