using System.Text;
using DbOps.Core.Engines;

namespace DbOps.Core.Tests;

public sealed class CopyStreamCounterTests
{
    private const string Dump = """
        SET statement_timeout = 0;
        COPY public.actor (actor_id, first_name) FROM stdin;
        1	PENELOPE
        2	NICK\nwith a newline
        \.

        COPY "Sch ema"."we""ird; DROP TABLE x;--" (id) FROM stdin;
        \\.
        \.
        COPY public.empty (id) FROM stdin;
        \.
        COPY public."new
        line ""x"" (y) FROM stdin;" ("a
        b") FROM stdin;
        7
        \.
        SELECT pg_catalog.setval('public.actor_actor_id_seq', 200, true);

        """;

    [Fact]
    public void Counts_rows_per_table_including_quoted_names_and_empty_tables()
    {
        var counter = new CopyStreamCounter();
        counter.Feed(Encoding.UTF8.GetBytes(Dump.ReplaceLineEndings("\n")));

        Assert.Equal(
            ["public.actor=2", "Sch ema.we\"ird; DROP TABLE x;--=1", "public.empty=0", "public.new\nline \"x\" (y) FROM stdin;=1"],
            counter.Tables.Select(t => $"{t.Schema}.{t.Name}={t.Rows}"));
    }

    [Fact]
    public void Gives_the_same_counts_when_the_stream_arrives_one_byte_at_a_time()
    {
        var bytes = Encoding.UTF8.GetBytes(Dump.ReplaceLineEndings("\n"));
        var counter = new CopyStreamCounter();
        foreach (var b in bytes)
        {
            counter.Feed([b]);
        }
        Assert.Equal([2L, 1L, 0L, 1L], counter.Tables.Select(t => t.Rows));
    }

    [Fact]
    public async Task A_stream_that_ends_inside_a_table_is_an_error()
    {
        var counter = new CopyStreamCounter();
        var truncated = new MemoryStream(Encoding.UTF8.GetBytes("COPY public.t (id) FROM stdin;\n1\n2\n"));
        await Assert.ThrowsAsync<InvalidDataException>(() => counter.CountAsync(truncated, CancellationToken.None));
    }
}
