namespace Steward.Bench;

/// <summary>
/// The order in which a round measures three settings (a baseline, the change, a twin of the baseline for the noise
/// floor). Whatever the machine does at a fixed point of a round, or after a given setting, must fall on each setting
/// alike: the rounds walk through every permutation, in a sequence where over six rounds each setting runs in each place,
/// and after each setting (itself too), equally often. A rotation (A B C, B C A, C A B) always ran B after an A-like
/// setting and C after B in two rounds of three, and what ran before mattered: over five runs of the governance
/// benchmark the twin measured 0.960 of the baseline where it followed the change and 1.007 where it followed the baseline.
/// </summary>
internal static class SettingOrder
{
    private static readonly int[][] Orders = [[0, 1, 2], [2, 0, 1], [1, 0, 2], [2, 1, 0], [0, 2, 1], [1, 2, 0]];

    /// <summary>The settings of round <paramref name="round"/> (0-based), in the order to measure them.</summary>
    public static IEnumerable<T> Of<T>(IReadOnlyList<T> settings, int round)
    {
        if (settings.Count != 3)
        {
            throw new ArgumentException("Balanced orders are defined for three settings.", nameof(settings));
        }

        return Orders[round % Orders.Length].Select(i => settings[i]);
    }
}
