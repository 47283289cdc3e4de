using Microsoft.Extensions.DependencyInjection;
using Steward.Tests.TestSupport;
using Steward.Web.Api;
using Steward.Web.Tests.Gateway;

namespace Steward.Web.Tests.Api;

/// <summary>The memory cap on buffered run events: a long run drops its oldest events, and a stream that wanted them is told.</summary>
public sealed class RunEventBufferTests : ApiTest
{
    protected override Task<GatewayApp> StartAsync() => GatewayApp.StartAsync(s =>
    {
        s["Steward:Api:EventBufferBytesPerRun"] = "16384";
        s["Steward:Api:EventBufferBytes"] = "32768";
    });

    [Fact]
    public async Task Events_LongRunPastTheCap_GapEventThenTheRestAndTheWholeResult()
    {
        App.Model.Reply = _ => new FakeReply { Chunks = [.. Enumerable.Range(0, 300).Select(i => $"w{i} ")] };
        var run = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "Talk" }));
        var id = run["id"]!.GetValue<Guid>();
        var live = await ApiApp.ReadEventsAsync(Http, $"/api/runs/{id}/events");

        var late = await ApiApp.ReadEventsAsync(Http, $"/api/runs/{id}/events");
        var resumed = await ApiApp.ReadEventsAsync(Http, $"/api/runs/{id}/events", lastEventId: "3");

        var gap = late[0];
        Assert.Equal("gap", gap.Event);
        Assert.Equal(0, gap.Data["gap"]!["from"]!.GetValue<int>());
        var to = gap.Data["gap"]!["to"]!.GetValue<int>();
        Assert.True(to > 3, $"the first {to + 1} events were dropped");
        Assert.Equal(to.ToString(System.Globalization.CultureInfo.InvariantCulture), gap.Id);
        Assert.Contains("EventBufferBytesPerRun", gap.Data["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal((to + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), late[1].Id);
        Assert.Equal(("gap", 4), (resumed[0].Event, resumed[0].Data["gap"]!["from"]!.GetValue<int>()));
        Assert.Equal("done", late[^1].Event);
        var answer = string.Concat(Enumerable.Range(0, 300).Select(i => $"w{i} "));
        Assert.Equal(answer, late[^1].Data["result"]!["answer"]!.GetValue<string>());
        Assert.Equal(live[^1].Id, late[^1].Id);
        var buffer = App.Services.GetRequiredService<ApiRuns>().Buffer;
        Assert.InRange(buffer.Used, 1, 16384 + 8192);
    }
}
