namespace Steward.LocalModels.Engine.Generation.Constraints;

/// <summary>
/// Which integer texts an inclusive range [<see cref="Minimum"/>, <see cref="Maximum"/>] allows, asked digit by digit
/// while a number is generated: a prefix is kept only if some completion of at most <see cref="MaxDigits"/> digits lies
/// in the range, so a model can never write itself into a number it may not end (a judge's score of 1 to 5 cannot become
/// 12). JSON's own rules apply: no leading zeros, and "-0" is zero.
/// </summary>
internal readonly record struct IntegerBounds(long Minimum, long Maximum, int MaxDigits)
{
    public bool Contains(bool negative, long magnitude)
    {
        var value = negative ? -(Int128)magnitude : magnitude;
        return value >= Minimum && value <= Maximum;
    }

    /// <summary>
    /// The fewest digits still to write after a prefix of <paramref name="digits"/> digits of value <paramref name="magnitude"/>
    /// (0 digits: only the sign so far) for the number to end in the range; <see langword="null"/> when none does.
    /// </summary>
    public int? FewestMoreDigits(bool negative, long magnitude, int digits)
    {
        if (digits > 0 && magnitude == 0)
        {
            // "0" or "-0": nothing may follow.
            return Contains(negative, 0) ? 0 : null;
        }

        for (var more = digits == 0 ? 1 : 0; digits + more <= MaxDigits; more++)
        {
            var scale = Int128.One;
            for (var i = 0; i < more; i++)
            {
                scale *= 10;
            }

            // With `more` digits appended the magnitude lies in [low, high]; a lone first digit may also be 0.
            Int128 low = digits == 0 ? (more == 1 ? 0 : scale / 10) : magnitude * scale;
            var high = digits == 0 ? scale - 1 : low + scale - 1;
            var (from, to) = negative ? (-high, -low) : (low, high);
            if (from <= Maximum && to >= Minimum)
            {
                return more;
            }
        }

        return null;
    }

    public bool CanReach(bool negative, long magnitude, int digits) => FewestMoreDigits(negative, magnitude, digits) is not null;

    /// <summary>Bytes in the shortest integer text within the range; <see langword="null"/> when there is none.</summary>
    public int? ShortestText()
    {
        int? best = null;
        foreach (var negative in new[] { false, true })
        {
            if (FewestMoreDigits(negative, 0, 0) is { } digits)
            {
                var length = digits + (negative ? 1 : 0);
                best = best is null ? length : Math.Min(best.Value, length);
            }
        }

        return best;
    }
}
