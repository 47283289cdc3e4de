using Microsoft.Extensions.AI;

namespace Steward.Calls;

/// <summary>
/// The embedded engine behind a governed layer's inner client, if it is one, looked up on first use and kept: the pipeline
/// beneath a layer never changes, so no call pays the walk down its chain again.
/// </summary>
internal struct LocalEngineLookup
{
    private LocalModels.LocalChatClient? _local;
    private bool _known;

    public LocalModels.LocalChatClient? Get(IChatClient inner)
    {
        if (!_known)
        {
            _local = inner.GetService<LocalModels.LocalChatClient>();
            _known = true;
        }

        return _local;
    }
}
