namespace Steward.LocalModels.Engine.Generation.Constraints;

/// <summary>
/// The range a bounded number must end in (<c>minimum</c> / <c>maximum</c> and their exclusive forms), asked byte by
/// byte while it is generated: a prefix is kept only if some completion lies in the range, so a model can never write
/// itself into a number it may not end (a judge's score of 1 to 5 cannot become 12, a confidence of 0 to 1 cannot
/// become 1.5). Values are counted in units of 10^-<see cref="Scale"/>: <see cref="Scale"/> is 0 for integers, and the
/// number of fraction digits a number may have otherwise, so the range is a set of whole units and every question is
/// integer arithmetic. JSON's own rules apply: no leading zeros, at least one digit after a point, "-0" is zero. A
/// bounded number is written without an exponent (a subset of the texts the schema accepts, so it still validates).
/// </summary>
/// <param name="Minimum">The smallest value allowed, in units.</param>
/// <param name="Maximum">The largest value allowed, in units.</param>
/// <param name="Scale">Fraction digits allowed (0: an integer).</param>
internal readonly record struct NumberBounds(Int128 Minimum, Int128 Maximum, int Scale)
{
    /// <summary>Digits allowed in the integer part, and in the fraction.</summary>
    public const int MaxDigits = JsonMatcher.MaxDigits;

    // 10^0 .. 10^30: a 15-digit integer part scaled by 15 fraction digits is the largest product.
    private static readonly Int128[] Powers = [.. Enumerable.Range(0, 31).Select(n => n == 0 ? Int128.One : Int128.Parse("1" + new string('0', n), System.Globalization.CultureInfo.InvariantCulture))];

    private Int128 Unit => Powers[Scale];

    /// <summary>10^<paramref name="exponent"/>, for 0 ≤ exponent ≤ 30.</summary>
    public static Int128 Pow10(int exponent) => Powers[exponent];

    /// <summary>Whether the text so far, ended here, is a number in the range.</summary>
    public bool Contains(bool negative, long integer, long fraction, int fractionDigits)
    {
        var magnitude = (integer * Unit) + (fraction * Powers[Scale - fractionDigits]);
        var value = negative ? -magnitude : magnitude;
        return value >= Minimum && value <= Maximum;
    }

    /// <summary>
    /// The fewest bytes still to write after an integer part of <paramref name="digits"/> digits and value
    /// <paramref name="integer"/> (0 digits: only the sign so far) for the number to end in the range, a point and
    /// fraction digits included; <see langword="null"/> when no completion does.
    /// </summary>
    public int? FewestMoreBytes(bool negative, long integer, int digits)
    {
        if (digits > 0 && integer == 0)
        {
            // "0": no digit may follow, only a fraction.
            return FewestFractionBytes(negative, 0, Unit - 1, typed: 0, pointWritten: false);
        }

        int? best = null;
        for (var more = digits == 0 ? 1 : 0; digits + more <= MaxDigits && (best is null || more < best); more++)
        {
            // With `more` digits appended the integer part lies in [low, high] (a lone first digit may be 0), and every
            // unit from low's to high's last is reachable through the fraction.
            var (low, high) = digits == 0
                ? (more == 1 ? 0 : Powers[more - 1], Powers[more] - 1)
                : (integer * Powers[more], ((integer + 1) * Powers[more]) - 1);
            if (FewestFractionBytes(negative, low * Unit, ((high + 1) * Unit) - 1, typed: 0, pointWritten: false) is { } fraction)
            {
                best = Math.Min(best ?? int.MaxValue, more + fraction);
            }
        }

        return best;
    }

    /// <summary>
    /// The fewest bytes still to write after the point and <paramref name="fractionDigits"/> fraction digits (value
    /// <paramref name="fraction"/>) for the number to end in the range; <see langword="null"/> when none does.
    /// </summary>
    public int? FewestMoreFractionBytes(bool negative, long integer, long fraction, int fractionDigits)
    {
        var low = (integer * Unit) + (fraction * Powers[Scale - fractionDigits]);
        return FewestFractionBytes(negative, low, low + Powers[Scale - fractionDigits] - 1, fractionDigits, pointWritten: true);
    }

    /// <summary>-x, where an unbounded side's <see cref="Int128.MinValue"/> stays unbounded (it has no negation).</summary>
    private static Int128 Negate(Int128 value) => value == Int128.MinValue ? Int128.MaxValue : -value;

    /// <summary>Bytes in the shortest text of a number in the range; <see langword="null"/> when there is none.</summary>
    public int? ShortestText()
    {
        var positive = FewestMoreBytes(negative: false, 0, 0);
        var negative = FewestMoreBytes(negative: true, 0, 0) + 1;
        return positive is null ? negative : negative is null ? positive : Math.Min(positive.Value, negative.Value);
    }

    /// <summary>
    /// Of the magnitudes [<paramref name="low"/>, <paramref name="high"/>] (units) the text can still reach, the fewest
    /// fraction bytes (point included, unless written) that end on one in the range; <paramref name="typed"/> fraction
    /// digits are written already.
    /// </summary>
    private int? FewestFractionBytes(bool negative, Int128 low, Int128 high, int typed, bool pointWritten)
    {
        // Magnitudes, so never below zero.
        var (from, to) = negative ? (Int128.Max(low, Negate(Maximum)), Int128.Min(high, Negate(Minimum))) : (Int128.Max(low, Minimum), Int128.Min(high, Maximum));
        if (from > to)
        {
            return null;
        }

        // A number ends with no fraction, or with at least one digit after the point; the fewer digits, the coarser the
        // grid of values it can end on.
        for (var digits = typed; digits <= Scale; digits++)
        {
            if (pointWritten && digits == 0)
            {
                continue;
            }

            var step = Powers[Scale - digits];
            var first = (from + step - 1) / step * step;
            if (first <= to)
            {
                return digits - typed + (!pointWritten && digits > 0 ? 1 : 0);
            }
        }

        return null;
    }
}
