using MudBlazor;

namespace Steward.Web.Components.Layout;

/// <summary>Steward's palette, light and dark, with contrast kept at WCAG AA for text on surfaces.</summary>
internal static class StewardTheme
{
    public static MudTheme Theme { get; } = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#3f51b5",
            Secondary = "#00796b",
            AppbarBackground = "#283593",
            Success = "#2e7d32",
            Warning = "#b26a00",
            Error = "#c62828",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#8c9eff",
            Secondary = "#4db6ac",
            AppbarBackground = "#1a1a27",
            Success = "#66bb6a",
            Warning = "#ffb74d",
            Error = "#ef5350",
        },
    };
}
