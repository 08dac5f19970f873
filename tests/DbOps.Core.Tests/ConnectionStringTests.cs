using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;

namespace DbOps.Core.Tests;

public sealed class ConnectionStringTests
{
    [Theory]
    [InlineData("Host=db1;Database=sales", true)]
    [InlineData("postgresql://ops@db1:5433/sales", true)]
    [InlineData("postgres://db1/sales", true)]
    [InlineData("/data/app.db", false)]
    [InlineData("./goals.db", false)]
    [InlineData("/data/odd=name.db", false)]
    [InlineData("odd=name.db", false)]
    [InlineData("./a=b;c=d.db", false)]
    [InlineData("Hots=db1;Usrname=x;", true)]
    [InlineData("Hots=db1;", true)]
    public void Tells_connection_strings_from_sqlite_paths(string text, bool isPostgres) =>
        Assert.Equal(isPostgres, DatabaseConnector.IsPostgresConnectionString(text));

    [Theory]
    [InlineData("Hots=db1;Username=x;")]
    [InlineData("Hots=db1;Usrname=x;")]
    public async Task A_mistyped_keyword_is_InvalidConnectionString_naming_it(string text)
    {
        var error = await Assertions.ThrowsDbOps(ErrorIds.InvalidConnectionString,
            () => DatabaseConnector.ConnectPostgresAsync(text, null, null, CancellationToken.None));
        Assert.Contains("'hots'", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Parses_a_uri_with_escaped_user_password_and_parameters()
    {
        var builder = PostgresConnectionString.Parse(
            "postgresql://ops%40corp:p%40ss%3Aword@db1.example:5433/sales%20db?sslmode=require&application_name=nightly",
            null, null);

        Assert.Equal("db1.example", builder.Host);
        Assert.Equal(5433, builder.Port);
        Assert.Equal("ops@corp", builder.Username);
        Assert.Equal("p@ss:word", builder.Password);
        Assert.Equal("sales db", builder.Database);
        Assert.Equal(Npgsql.SslMode.Require, builder.SslMode);
        Assert.Equal("nightly", builder.ApplicationName);
    }

    [Fact]
    public void Rejects_an_unknown_uri_parameter_with_a_stable_id_and_no_password()
    {
        var error = Assert.Throws<DbOpsException>(() =>
            PostgresConnectionString.Parse("postgresql://u:TopSecret99@h/db?frobnicate=1", null, null));
        Assert.Equal(ErrorIds.InvalidConnectionString, error.ErrorId);
        Assert.DoesNotContain("TopSecret99", error.Message);
    }

    [Fact]
    public void A_credential_overrides_the_connection_string_user_and_password()
    {
        var builder = PostgresConnectionString.Parse("Host=h;Username=a;Password=b;Database=d", "ops", "s3cret");
        Assert.Equal("ops", builder.Username);
        Assert.Equal("s3cret", builder.Password);
    }
}
