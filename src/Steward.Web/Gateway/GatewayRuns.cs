using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Budgets;
using Steward.Calls;
using Steward.Keys;
using Steward.Providers;

namespace Steward.Web.Gateway;

/// <summary>A streamed answer in one of the gateway's wire formats.</summary>
internal interface IGatewayStream
{
    bool Started { get; }

    /// <summary>Sends the status, the headers and the opening events.</summary>
    ValueTask StartAsync(Guid runId);

    ValueTask DeltaAsync(string text);

    /// <summary>The caller's function calls, the finish and usage, the end of the stream.</summary>
    ValueTask FinishAsync(AgentResponse response);

    /// <summary>The run failed after the stream began.</summary>
    ValueTask FailAsync(GatewayError error, AgentResponse response);
}

/// <summary>What a gateway request's <c>model</c> names: a preset (the full agent pipeline) or <c>PROVIDER/MODEL</c> (a governed pass-through).</summary>
internal sealed record GatewayTarget(string Model, bool PassThrough, string? Provider, string? ProviderModel);

/// <summary>
/// What every gateway endpoint shares: reading the body within its limit, resolving the model against the presets,
/// the providers and the key's allowed models, turning a request into a stateless run of the <see cref="AgentRunner"/>
/// (purpose gateway, the key's budgets checked on every model call), and the result headers.
/// </summary>
internal sealed class GatewayRuns(
    AgentRunner runner, PresetCatalog presets, ProviderCatalog providers, ApiKeys keys, GatewayTokenLimits tokenLimits,
    IOptions<GatewayOptions> options, TimeProvider time)
{
    public TimeProvider Time => time;

    public AgentRunner Runner => runner;

    /// <summary>The body as JSON, or a 413 / 400 <see cref="GatewayError"/>.</summary>
    public async Task<JsonDocument> ReadBodyAsync(HttpContext context)
    {
        var max = options.Value.MaxRequestBytes;
        if (context.Request.ContentLength > max)
        {
            throw TooLarge(max);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = max;
        }

        try
        {
            return await JsonDocument.ParseAsync(context.Request.Body, new JsonDocumentOptions { MaxDepth = 64 }, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? FormattableString.Invariant($" (line {line + 1}, position {ex.BytePositionInLine + 1})") : "";
            throw GatewayError.BadRequest($"The request body is not valid JSON{where}. Send one JSON object.", code: "invalid_json");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(max);
        }
    }

    private static GatewayError TooLarge(long max) => new(StatusCodes.Status413PayloadTooLarge, "invalid_request_error", "request_too_large",
        string.Create(CultureInfo.InvariantCulture, $"The request body is larger than the gateway takes ({max:N0} bytes, Steward:Gateway:MaxRequestBytes). Shorten it, or raise the limit."));

    /// <summary>The target of <paramref name="model"/>, if it exists and <paramref name="key"/> may call it.</summary>
    public GatewayTarget Resolve(string model, ApiKeyInfo key)
    {
        GatewayTarget target;
        var slash = model.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            var provider = model[..slash];
            var name = model[(slash + 1)..];
            if (name.Length == 0 || !providers.List().Any(p => p.Name == provider))
            {
                throw GatewayError.ModelNotFound(model, name.Length == 0
                    ? "PROVIDER/MODEL needs a model after the slash."
                    : $"no provider '{provider}' is configured ({string.Join(", ", providers.List().Select(p => p.Name))}).");
            }

            target = new GatewayTarget(model, PassThrough: true, provider, name);
        }
        else
        {
            try
            {
                _ = presets.Get(model);
            }
            catch (PresetNotFoundException)
            {
                throw GatewayError.ModelNotFound(model, "it is neither a preset nor PROVIDER/MODEL.");
            }
            catch (PresetLoadException)
            {
                // A preset file added while the app runs, with a mistake in it. Its path and the parser's words are for
                // whoever runs the server (the log, the Agents page), not for a caller of the API.
                throw new GatewayError(StatusCodes.Status503ServiceUnavailable, "api_error", "preset_invalid",
                    $"The preset '{model}' has an error in its file, so this server cannot run it until the file is fixed (the Agents page and 'steward presets list' name the problem).");
            }

            target = new GatewayTarget(model, PassThrough: false, null, null);
        }

        return key.Allows(model)
            ? target
            : throw new GatewayError(StatusCodes.Status403Forbidden, "permission_error", "model_not_allowed",
                $"The key '{key.Name}' may not call '{model}'; it may call {string.Join(", ", key.Models)}.", "model");
    }

    /// <summary>The stateless run a request becomes; the key's tokens per minute are taken for its prompt first.</summary>
    public RunRequest Request(
        GatewayTarget target, ApiKeyInfo key, IReadOnlyList<ChatMessage> messages, ChatOptions options, int? maxOutputTokens, bool stream, string? userId = null,
        IReadOnlyList<string>? tags = null)
    {
        tokenLimits.TakePrompt(key, messages.Sum(m => (long)m.Text.Length) / 4 + 1);
        return new RunRequest
        {
            Preset = target.Model,
            PassThrough = target.PassThrough,
            Provider = target.Provider,
            Model = target.ProviderModel,
            Messages = messages,
            Options = options,
            MaxOutputTokens = maxOutputTokens,
            Purpose = ModelCallPurpose.Gateway,
            // Storage behind the answer: it must not be what limits the gateway's throughput (README: what a crash can lose).
            WriteBehind = true,
            WholeAnswer = !stream,
            ApiKeyId = key.Id,
            ApiKeyBudgets = key.Budgets,
            UserId = userId,
            Tags = tags ?? [],
        };
    }

    /// <summary>The run's failure as the error to send; the answer's tokens are counted against the key's minute either way.</summary>
    public GatewayError? Failure(AgentResponse response, GatewayTarget target, ApiKeyInfo key)
    {
        tokenLimits.TakeOutput(key, response.Usage.OutputTokens);
        if (response.Status == RunStatus.Completed)
        {
            return null;
        }

        var retry = keys.UntilBudgetResets(key) ?? TimeSpan.FromSeconds(60);
        return GatewayError.FromRun(response.Error ?? new RunError(RunErrorCodes.Internal, "The run failed."), target.Model, target.PassThrough, retry);
    }

    /// <summary>
    /// Sets <c>x-steward-run-id</c>, <c>x-steward-cost-usd</c>, <c>x-steward-usage-estimated: true</c> when the provider reported
    /// no usage (the usage and cost are Steward's own count) and, for a key with a budget, <c>x-steward-budget-remaining</c>.
    /// </summary>
    public async Task SetResultHeadersAsync(HttpResponse http, AgentResponse response, ApiKeyInfo key)
    {
        var headers = http.Headers;
        headers[RunIdHeader] = response.RunId.ToString();
        headers[CostHeader] = CostText(response);
        if (response.UsageEstimated)
        {
            headers[UsageEstimatedHeader] = "true";
        }

        if (await keys.DescribeRemainingAsync(key, CancellationToken.None).ConfigureAwait(false) is { } left)
        {
            headers[RemainingHeader] = left;
        }
    }

    /// <summary>Runs a request whole: the answer once it is stored, or the <see cref="GatewayError"/> its failure is (headers set either way).</summary>
    public async Task<AgentResponse> RunAsync(HttpContext context, RunRequest run, GatewayTarget target, ApiKeyInfo key)
    {
        var response = await runner.RunAsync(run, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        await SetResultHeadersAsync(context.Response, response, key).ConfigureAwait(false);
        return Failure(response, target, key) is { } failure ? throw failure : response;
    }

    /// <summary>
    /// Runs a request as a stream. The stream starts with the answer's first text: a run refused before then (budget,
    /// provider) is still a plain error with its own status; after it, the failure is the stream's last event. The cost,
    /// known only at the end, cannot be a header: it is sent as the HTTP trailer <c>x-steward-cost-usd</c> where the
    /// connection allows trailers (HTTP/2 and HTTP/3; Kestrel sends none on HTTP/1.1) and always in the last event's
    /// <c>steward</c> field.
    /// </summary>
    public async Task StreamAsync(HttpContext context, RunRequest run, GatewayTarget target, ApiKeyInfo key, IGatewayStream stream)
    {
        var result = await runner.RunAsync(run, async progress =>
        {
            if (progress.TextDelta is { } delta)
            {
                if (!stream.Started)
                {
                    context.Response.Headers[RunIdHeader] = progress.RunId.ToString();
                    await StartAsync(context.Response, stream, progress.RunId).ConfigureAwait(false);
                }

                await stream.DeltaAsync(delta).ConfigureAwait(false);
            }
        }, context.RequestAborted).ConfigureAwait(false);

        var error = Failure(result, target, key);
        if (!stream.Started)
        {
            await SetResultHeadersAsync(context.Response, result, key).ConfigureAwait(false);
            if (error is not null)
            {
                throw error;
            }

            await StartAsync(context.Response, stream, result.RunId).ConfigureAwait(false);
        }

        if (error is null)
        {
            await stream.FinishAsync(result).ConfigureAwait(false);
        }
        else if (!context.RequestAborted.IsCancellationRequested)
        {
            await stream.FailAsync(error, result).ConfigureAwait(false);
        }

        if (context.Response.SupportsTrailers() && !context.RequestAborted.IsCancellationRequested)
        {
            context.Response.AppendTrailer(CostHeader, CostText(result));
        }
    }

    private static ValueTask StartAsync(HttpResponse http, IGatewayStream stream, Guid runId)
    {
        if (http.SupportsTrailers())
        {
            // Announced with the headers, as HTTP asks of a trailer. Kestrel sends trailers on HTTP/2 (and 3), not on HTTP/1.1.
            http.DeclareTrailer(CostHeader);
        }

        return stream.StartAsync(runId);
    }

    /// <summary>The run's cost as <c>x-steward-cost-usd</c> says it: USD, or <c>unpriced</c> for a model with no price.</summary>
    public static string CostText(AgentResponse response) =>
        response.Cost.Usd is { } usd ? usd.ToString("0.##########", CultureInfo.InvariantCulture) : "unpriced";

    /// <summary>
    /// <c>"steward": {"run_id", "cost_usd"}</c> on a stream's last event: a field the OpenAI SDKs ignore, so a streaming
    /// caller that cannot read trailers still learns the cost; with <c>"usage_estimated": true</c> when the provider
    /// reported no usage and the usage and cost are Steward's own count.
    /// </summary>
    public static void WriteStewardField(Utf8JsonWriter json, AgentResponse response)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(response);
        json.WriteStartObject("steward");
        json.WriteString("run_id", response.RunId.ToString());
        json.WriteString("cost_usd", CostText(response));
        if (response.UsageEstimated)
        {
            json.WriteBoolean("usage_estimated", true);
        }

        json.WriteEndObject();
    }

    public const string RunIdHeader = "x-steward-run-id";
    public const string CostHeader = "x-steward-cost-usd";
    public const string RemainingHeader = "x-steward-budget-remaining";
    public const string UsageEstimatedHeader = "x-steward-usage-estimated";
}
