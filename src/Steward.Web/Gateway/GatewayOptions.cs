using Microsoft.Extensions.Options;

namespace Steward.Web.Gateway;

/// <summary>The OpenAI-compatible gateway's limits. Bound from <c>Steward:Gateway</c>; validated at start.</summary>
public sealed class GatewayOptions
{
    /// <summary>
    /// The largest request body the gateway reads, in bytes; a larger one is answered 413 before it is read. Default
    /// 8 MiB (a conversation with a few images as data: URLs).
    /// </summary>
    public long MaxRequestBytes { get; set; } = 8 * 1024 * 1024;
}

/// <summary>Checks <see cref="GatewayOptions"/> once, at start.</summary>
internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options) =>
        options.MaxRequestBytes is < 1024 or > 1024L * 1024 * 1024
            ? ValidateOptionsResult.Fail("Steward:Gateway:MaxRequestBytes must be between 1024 and 1073741824.")
            : ValidateOptionsResult.Success;
}
