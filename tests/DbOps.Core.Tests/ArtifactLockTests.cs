using DbOps.Core.Errors;
using DbOps.Core.IO;

namespace DbOps.Core.Tests;

/// <summary>The run locks of Copy-TableData -OnConflict Update and Export-TableArchive -Parallel (ArtifactFiles.Lock).</summary>
public sealed class ArtifactLockTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static Exception Held(IOException e) => new DbOpsException(ErrorIds.CopyRunning, ErrorKind.ResourceUnavailable, "held", null, e);

    [Fact]
    public void A_lock_another_holder_has_is_refused_as_held_and_is_free_again_once_released()
    {
        var path = _folder.File("run.lock");
        using (ArtifactFiles.Lock(path, Held))
        {
            Assert.Equal(ErrorIds.CopyRunning, Assert.Throws<DbOpsException>(() => ArtifactFiles.Lock(path, Held)).ErrorId);
        }
        using var again = ArtifactFiles.Lock(path, Held);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void A_lock_that_cannot_be_opened_is_not_reported_as_held_by_another_run()
    {
        var path = Path.Combine(_folder.File("gone"), "run.lock");
        var error = Assert.Throws<DbOpsException>(() => ArtifactFiles.Lock(path, Held));
        Assert.Equal(ErrorIds.DestinationNotWritable, error.ErrorId);
        Assert.Contains("folder exists", error.Message);
    }
}
