using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using Steward.Web.Analytics;

namespace Steward.Web.Tests.Analytics;

/// <summary>A label with markup in it is shown as the text it is, on every chart type the app draws.</summary>
public sealed class StewardChartTests : BunitContext
{
    private const string Hostile = "<img src=x onerror=alert(1)>";

    public StewardChartTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
    }

    [Theory]
    [InlineData(ChartType.Bar)]
    [InlineData(ChartType.StackedBar)]
    [InlineData(ChartType.Line)]
    public void CategoryAxis_MarkupInLabel_IsTextNotElements(ChartType type)
    {
        var cut = Render(type);

        Assert.Empty(cut.FindAll("img, [onerror], b"));
        var axis = cut.FindAll("g.mud-charts-xaxis text").Select(t => t.TextContent).ToArray();
        Assert.Equal([Hostile, "R&D <b>team</b>", "plain"], axis);
    }

    [Fact]
    public void Donut_MarkupInLabel_IsTextOnceEncoded()
    {
        var cut = Render(ChartType.Donut);

        Assert.Empty(cut.FindAll("img, [onerror], b"));
        var legend = cut.FindAll(".mud-chart-legend-item").Select(t => t.TextContent.Trim()).ToArray();
        Assert.Equal([Hostile, "R&D <b>team</b>", "plain"], legend);
    }

    private IRenderedComponent<StewardChart> Render(ChartType type) => Render<StewardChart>(p => p
        .Add(c => c.Type, type)
        .Add(c => c.Labels, [Hostile, "R&D <b>team</b>", "plain"])
        .Add(c => c.Series, [new ChartSeries<double> { Name = "<b>series</b>", Data = new ChartData<double>([1.0, 2.0, 3.0]) }]));
}
