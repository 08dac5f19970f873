using System.Data.Common;
using System.Globalization;
using DbOps.Core.Errors;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>
/// Turns what a user types (an Npgsql connection string or a libpq URI) into an Npgsql connection string,
/// filling values the user did not set from the PG* environment variables, as psql does. Password files
/// (PGPASSFILE, ~/.pgpass) are read by Npgsql itself when no password is set.
/// </summary>
internal static partial class PostgresConnectionString
{
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["host"] = "host", ["server"] = "host",
        ["port"] = "port",
        ["database"] = "database", ["db"] = "database",
        ["username"] = "username", ["user id"] = "username", ["userid"] = "username", ["user name"] = "username", ["user"] = "username",
        ["password"] = "password", ["pwd"] = "password", ["psw"] = "password",
        ["ssl mode"] = "sslmode", ["sslmode"] = "sslmode",
        ["timeout"] = "timeout", ["connect timeout"] = "timeout",
    };

    /// <summary>
    /// True for a postgres URI, or a key=value string that names a connection key or is shaped like one
    /// ("Hots=db1;Username=x;", so a typo is reported as the unknown keyword it is, not as a missing SQLite file);
    /// false for a file path, whose folder separators and dots never make a keyword.
    /// </summary>
    public static bool LooksLikePostgres(string text)
    {
        var t = text.Trim();
        var parts = t.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var keys = parts.Select(part => part.Contains('=') ? part.Split('=', 2)[0].Trim() : null).ToList();
        return IsUri(t)
            || keys.Any(k => k is not null && Aliases.ContainsKey(k))
            || (t.Contains(';') && keys.Count > 0 && keys.All(k => k is not null && KeywordShape().IsMatch(k)));
    }

    /// <summary>A word or words, as connection string keywords are ("Host", "SSL Mode", "Include Error Detail").</summary>
    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z][A-Za-z0-9 _]*$")]
    private static partial System.Text.RegularExpressions.Regex KeywordShape();

    public static NpgsqlConnectionStringBuilder Parse(string text, string? userName, string? password)
    {
        try
        {
            var (builder, explicitKeys) = IsUri(text.Trim()) ? FromUri(text.Trim()) : FromKeyValues(text);
            ApplyDefaults(builder, explicitKeys, userName, password);
            return builder;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or UriFormatException or OverflowException)
        {
            throw new DbOpsException(ErrorIds.InvalidConnectionString, ErrorKind.InvalidArgument,
                $"The PostgreSQL connection string (or a PG* environment variable) could not be used: {Redact(e.Message, text)} " +
                "Use 'Host=...;Port=...;Database=...;Username=...' or 'postgresql://user@host:port/database'.");
        }
    }

    /// <summary>Fills what the user left out from the PG* variables, then from psql's defaults.</summary>
    private static void ApplyDefaults(NpgsqlConnectionStringBuilder builder, HashSet<string> explicitKeys, string? userName, string? password)
    {
        string? FromEnv(string key, string variable) => explicitKeys.Contains(key) ? null : Env(variable);

        builder.Host = FromEnv("host", "PGHOST") ?? builder.Host ?? "localhost";
        if (FromEnv("port", "PGPORT") is { } port)
        {
            builder.Port = int.Parse(port, CultureInfo.InvariantCulture);
        }
        builder.Username = userName ?? FromEnv("username", "PGUSER") ?? builder.Username ?? Environment.UserName;
        builder.Database = FromEnv("database", "PGDATABASE") ?? builder.Database ?? builder.Username;
        builder.Password = password ?? FromEnv("password", "PGPASSWORD") ?? builder.Password;
        if (FromEnv("sslmode", "PGSSLMODE") is { } sslMode)
        {
            builder.SslMode = ParseSslMode(sslMode);
        }
        if (FromEnv("timeout", "PGCONNECT_TIMEOUT") is { } timeout)
        {
            builder.Timeout = int.Parse(timeout, CultureInfo.InvariantCulture);
        }
        builder.ApplicationName ??= Env("PGAPPNAME") ?? "DbOps";
    }

    private static bool IsUri(string text) =>
        text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase);

    private static (NpgsqlConnectionStringBuilder, HashSet<string>) FromKeyValues(string text)
    {
        var generic = new DbConnectionStringBuilder { ConnectionString = text };
        var keys = generic.Keys.Cast<string>()
            .Select(k => Aliases.TryGetValue(k, out var canonical) ? canonical : k.ToLowerInvariant())
            .ToHashSet();
        return (new NpgsqlConnectionStringBuilder(text), keys);
    }

    private static (NpgsqlConnectionStringBuilder, HashSet<string>) FromUri(string text)
    {
        var uri = new Uri(text);
        var builder = new NpgsqlConnectionStringBuilder();
        var keys = new HashSet<string>();
        void Set(string key, Action apply)
        {
            apply();
            keys.Add(key);
        }

        if (!string.IsNullOrEmpty(uri.Host))
        {
            Set("host", () => builder.Host = uri.Host.Trim('[', ']'));
        }
        if (!uri.IsDefaultPort && uri.Port > 0)
        {
            Set("port", () => builder.Port = uri.Port);
        }
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            Set("username", () => builder.Username = Uri.UnescapeDataString(parts[0]));
            if (parts.Length == 2)
            {
                Set("password", () => builder.Password = Uri.UnescapeDataString(parts[1]));
            }
        }
        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            Set("database", () => builder.Database = Uri.UnescapeDataString(path));
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]).ToLowerInvariant();
            var value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            switch (key)
            {
                case "sslmode": Set("sslmode", () => builder.SslMode = ParseSslMode(value)); break;
                case "connect_timeout": Set("timeout", () => builder.Timeout = int.Parse(value, CultureInfo.InvariantCulture)); break;
                case "application_name": builder.ApplicationName = value; break;
                case "host": Set("host", () => builder.Host = value); break;
                case "port": Set("port", () => builder.Port = int.Parse(value, CultureInfo.InvariantCulture)); break;
                case "user": Set("username", () => builder.Username = value); break;
                case "dbname": Set("database", () => builder.Database = value); break;
                case "options": builder.Options = value; break;
                default: throw new FormatException($"The URI parameter '{key}' is not supported.");
            }
        }
        return (builder, keys);
    }

    private static SslMode ParseSslMode(string value) => value.ToLowerInvariant() switch
    {
        "disable" => SslMode.Disable,
        "allow" => SslMode.Allow,
        "prefer" => SslMode.Prefer,
        "require" => SslMode.Require,
        "verify-ca" => SslMode.VerifyCA,
        "verify-full" => SslMode.VerifyFull,
        _ => throw new FormatException($"sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full."),
    };

    private static string? Env(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    /// <summary>Removes any password value found in <paramref name="connectionText"/> from a message.</summary>
    internal static string Redact(string message, string connectionText)
    {
        foreach (var part in connectionText.Split(';', '&', '@'))
        {
            var kv = part.Split(part.Contains('=') ? '=' : ':', 2);
            if (kv.Length == 2 && kv[1].Trim().Length > 2)
            {
                message = message.Replace(kv[1].Trim(), "***", StringComparison.Ordinal);
            }
        }
        return message;
    }
}
