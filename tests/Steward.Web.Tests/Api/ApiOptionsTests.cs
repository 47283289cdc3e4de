using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward.Web.Api;
using Steward.Web.Hosting;

namespace Steward.Web.Tests.Api;

/// <summary><c>Steward:Api</c> is checked when the app starts, every problem named with the key to fix.</summary>
public sealed class ApiOptionsTests
{
    [Fact]
    public async Task Start_InvalidApiSettings_RefusedListingEveryProblem()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Steward:Api:MaxRequestBytes"] = "10",
            ["Steward:Api:MaxImportBytes"] = "0",
            ["Steward:Api:EventRetention"] = "-00:00:01",
        });
        builder.AddStewardWeb();
        await using var app = builder.Build();

        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ApiOptions>>().Value);

        Assert.Equal(
            ["Steward:Api:MaxRequestBytes must be between 1024 and 1073741824.", "Steward:Api:MaxImportBytes must be between 1024 and 17179869184.",
                "Steward:Api:EventRetention must be between 00:00:00 and 1.00:00:00."],
            error.Failures);
    }
}
