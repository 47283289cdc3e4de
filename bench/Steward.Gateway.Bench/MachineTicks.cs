using System.Globalization;

namespace Steward.Gateway.Bench;

/// <summary>The machine's CPU time since boot from /proc/stat (all cores): busy and total, in clock ticks; zero where there is no /proc.</summary>
internal readonly record struct MachineTicks(long Busy, long Total)
{
    public double BusyPercent => Total == 0 ? double.NaN : 100.0 * Busy / Total;

    public static MachineTicks Read()
    {
        try
        {
            // "cpu  user nice system idle iowait irq softirq steal ...": idle and iowait are the idle part.
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Take(8).Sum();
            return new MachineTicks(total - fields[3] - fields[4], total);
        }
        catch (IOException)
        {
            return default;
        }
        catch (UnauthorizedAccessException)
        {
            return default;
        }
    }

    public static MachineTicks operator -(MachineTicks a, MachineTicks b) => new(a.Busy - b.Busy, a.Total - b.Total);
}
