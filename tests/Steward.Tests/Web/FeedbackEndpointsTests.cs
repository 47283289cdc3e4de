using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Agents;
using Steward.Evaluation;
using Steward.Tests.TestSupport;
using Steward.Web.Api;

namespace Steward.Tests.Web;

/// <summary>Feedback over HTTP for applications with their own UI.</summary>
public sealed class FeedbackEndpointsTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Give_UpWithComment_StoredAsApiAndReadBack()
    {
        var run = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Rate over HTTP" }, cancellationToken: Ct);

        var given = await FeedbackEndpoints.GiveAsync(run.RunId, new FeedbackRequest("UP", "Useful."), Engine.Get<FeedbackStore>(), Ct);
        var read = await FeedbackEndpoints.GetAsync(run.RunId, Engine.Get<FeedbackStore>(), Ct);

        Assert.Equal(FeedbackRating.Up, Assert.IsType<Ok<RunFeedback>>(given.Result).Value!.Rating);
        var stored = Assert.IsType<Ok<RunFeedback>>(read.Result).Value!;
        Assert.Equal(("Useful.", "api"), (stored.Comment, stored.Source));
    }

    [Theory]
    [InlineData("sideways", 400, "must be \"up\" or \"down\"")]
    [InlineData(null, 400, "must be \"up\" or \"down\"")]
    public async Task Give_BadRating_Problem400(string? rating, int status, string detail)
    {
        var result = await FeedbackEndpoints.GiveAsync(Guid.NewGuid(), new FeedbackRequest(rating, null), Engine.Get<FeedbackStore>(), Ct);

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal(status, problem.StatusCode);
        Assert.Contains(detail, problem.ProblemDetails.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Give_UnknownRun_Problem404()
    {
        var result = await FeedbackEndpoints.GiveAsync(Guid.NewGuid(), new FeedbackRequest("down", null), Engine.Get<FeedbackStore>(), Ct);

        Assert.Equal(404, Assert.IsType<ProblemHttpResult>(result.Result).StatusCode);
    }
}
