using System.Net;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Steward.Web.Analytics;

/// <summary>
/// A chart of labelled series (a <see cref="ChartSet"/>). MudBlazor 9 writes the category axis of bar, stacked-bar and line charts into
/// the SVG as markup rather than text, so a label is HTML-encoded here before it goes there; a model or preset name
/// is data, and data never becomes markup. Donut labels reach the legend and tooltips as text and are passed as
/// they are (encoding them would show the entities). <c>StewardChartTests</c> renders every chart type with a hostile
/// label, so a MudBlazor upgrade that changes either behaviour fails a test rather than the page.
/// </summary>
public sealed partial class StewardChart
{
    [Parameter, EditorRequired] public ChartType Type { get; set; }

    [Parameter, EditorRequired] public IReadOnlyList<string> Labels { get; set; } = [];

    [Parameter, EditorRequired] public List<ChartSeries<double>> Series { get; set; } = [];

    [Parameter] public string Height { get; set; } = "260px";

    [Parameter] public string? AriaLabel { get; set; }

    private string[] ChartLabels => ForChart(Type, Labels);

    /// <summary>The labels as MudBlazor must receive them for <paramref name="type"/> to show them as text.</summary>
    internal static string[] ForChart(ChartType type, IReadOnlyList<string> labels) => type switch
    {
        ChartType.Donut or ChartType.Pie => [.. labels],
        _ => [.. labels.Select(l => WebUtility.HtmlEncode(l))],
    };
}
