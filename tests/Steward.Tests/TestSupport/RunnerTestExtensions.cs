using Steward.Agents;

namespace Steward.Tests.TestSupport;

internal static class RunnerTestExtensions
{
    /// <summary>Runs a request and waits for its answer to be scored (which happens after delivery, in the background).</summary>
    public static async Task<AgentResponse> RunAndScoreAsync(this AgentRunner runner, RunRequest request, CancellationToken cancellationToken = default)
    {
        var response = await runner.RunAsync(request, cancellationToken: cancellationToken);
        return response.EvaluationPending
            ? response with { Quality = await runner.WaitForQualityAsync(response.RunId, cancellationToken) }
            : response;
    }
}
