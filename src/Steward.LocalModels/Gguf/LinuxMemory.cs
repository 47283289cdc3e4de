using System.Runtime.InteropServices;

namespace Steward.LocalModels.Gguf;

/// <summary>The one Linux memory call the engine makes: asking for transparent huge pages for a model read into memory.</summary>
internal static unsafe partial class LinuxMemory
{
    /// <summary><c>MADV_HUGEPAGE</c>.</summary>
    public const int HugePageAdvice = 14;

    [LibraryImport("libc", EntryPoint = "madvise")]
    public static partial int Madvise(void* address, nuint length, int advice);
}
