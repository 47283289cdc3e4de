using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Steward.Web.Hosting;
using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Tests.Hosting;

/// <summary>Host settings the memory soak relies on.</summary>
public sealed class WebHostSettingsTests
{
    [Fact]
    public void CircuitRetention_ComesFromStewardWebCircuits()
    {
        var builder = WebApplication.CreateBuilder(["--Steward:Web:Circuits:DisconnectedCircuitRetentionPeriod=00:00:20", "--Steward:Web:Circuits:DisconnectedCircuitMaxRetained=7"]);
        builder.AddStewardWeb();
        using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<CircuitOptions>>().Value;

        Assert.Equal((TimeSpan.FromSeconds(20), 7), (options.DisconnectedCircuitRetentionPeriod, options.DisconnectedCircuitMaxRetained));
    }

    /// <summary>Server GC kept ~100 MiB committed for an ~11 MiB live heap after the soak's chats; see Steward.Web.csproj.</summary>
    [Fact]
    public void RuntimeConfig_WorkstationConcurrentGc()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.ChangeExtension(WebAppProcess.WebDll, ".runtimeconfig.json")))!["runtimeOptions"]!["configProperties"]!;

        Assert.False(config["System.GC.Server"]!.GetValue<bool>());
        Assert.True(config["System.GC.Concurrent"]!.GetValue<bool>());
    }
}
