namespace Steward.LocalModels.Engine.Generation.Constraints;

/// <summary>
/// Restricts which tokens may be sampled, token by token (grammar-constrained decoding). The generator calls
/// <see cref="Mask"/> before each sample and <see cref="Accept"/> with the token sampled; when
/// <see cref="IsComplete"/> turns true the output is finished and generation ends. One instance per generation; not
/// thread-safe.
/// </summary>
internal interface ITokenConstraint
{
    /// <summary>
    /// Sets the logit of every token that may not come next to negative infinity. <paramref name="remainingTokens"/>
    /// (this one included) lets the constraint steer to a complete output before the cap.
    /// </summary>
    void Mask(Span<float> logits, int remainingTokens);

    /// <summary>Advances past <paramref name="token"/>, which <see cref="Mask"/> allowed.</summary>
    void Accept(int token);

    /// <summary>The output is complete and nothing more may follow.</summary>
    bool IsComplete { get; }
}
