using System.Globalization;
using System.Text.Json;
using Steward.Agents;

namespace Steward.Web.Gateway;

/// <summary>
/// A gateway failure in OpenAI's shape (<c>{"error": {"message", "type", "code", "param"}}</c>) with the status the
/// OpenAI SDKs turn into their own exception types: 400 bad request, 401 authentication, 403 permission, 404 not found,
/// 413 too large, 429 rate limit (with <c>Retry-After</c>), 502/504 upstream failure, 503 a preset this server cannot run
/// (its model is not on disk, or its provider not configured). The message is one line meant for a person; it never
/// carries a secret.
/// </summary>
internal sealed class GatewayError(int status, string type, string code, string message, string? param = null) : Exception(message)
{
    /// <summary>How the gateway writes JSON: as OpenAI does, without escaping apostrophes or non-ASCII text (the body is JSON, not HTML).</summary>
    public static JsonWriterOptions JsonOptions { get; } = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public int Status { get; } = status;

    public string Type { get; } = type;

    public string Code { get; } = code;

    public string? Param { get; } = param;

    /// <summary>When to try again, for 429.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static GatewayError BadRequest(string message, string? param = null, string code = "invalid_request") =>
        new(StatusCodes.Status400BadRequest, "invalid_request_error", code, message, param);

    public static GatewayError UnknownParameter(string name) =>
        BadRequest($"Unrecognized request argument supplied: {name}. Remove it; see GET /v1/models and the OpenAI API reference for the fields Steward takes.", name, "unknown_parameter");

    public static GatewayError Unsupported(string param, string message) => BadRequest(message, param, "unsupported_parameter");

    public static GatewayError ModelNotFound(string model, string why) =>
        new(StatusCodes.Status404NotFound, "invalid_request_error", "model_not_found", $"The model '{model}' does not exist: {why} GET /v1/models lists the models this gateway serves.", "model");

    /// <summary>The error a run's failure becomes; <paramref name="budgetRetryAfter"/> is when a refused budget opens again.</summary>
    public static GatewayError FromRun(RunError error, string model, bool passThrough, TimeSpan budgetRetryAfter) => error.Code switch
    {
        RunErrorCodes.BudgetExceeded => new GatewayError(StatusCodes.Status429TooManyRequests, "insufficient_quota", "budget_exceeded", error.Message)
        {
            RetryAfter = budgetRetryAfter,
        },
        RunErrorCodes.PresetNotFound => ModelNotFound(model, "it is neither a preset nor PROVIDER/MODEL."),
        RunErrorCodes.ProviderNotConfigured when passThrough => ModelNotFound(model, error.Message),
        // The preset exists (GET /v1/models lists it) but this server cannot run it until someone fixes its setup: the
        // server's condition, not the request's and not an internal fault, and the message says what to set or pull.
        RunErrorCodes.ProviderNotConfigured => new GatewayError(StatusCodes.Status503ServiceUnavailable, "api_error", RunErrorCodes.ProviderNotConfigured, error.Message),
        RunErrorCodes.InvalidRequest => BadRequest(error.Message),
        RunErrorCodes.ContextWindowExceeded => BadRequest(error.Message, "messages", "context_length_exceeded"),
        "provider_timeout" => new GatewayError(StatusCodes.Status504GatewayTimeout, "api_error", "upstream_timeout", error.Message),
        "provider_rate_limited" => new GatewayError(StatusCodes.Status429TooManyRequests, "rate_limit_error", "upstream_rate_limited", error.Message)
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        },
        // The model refused this request as it was sent (an upstream 400, a schema the embedded engine cannot enforce):
        // the caller's to change, as OpenAI itself would answer it.
        "provider_bad_request" => BadRequest(error.Message, code: "upstream_invalid_request"),
        _ when RunErrorCodes.IsProvider(error.Code) => new GatewayError(StatusCodes.Status502BadGateway, "api_error", "upstream_error", error.Message),
        RunErrorCodes.Cancelled => new GatewayError(499, "api_error", "cancelled", error.Message),
        _ => new GatewayError(StatusCodes.Status500InternalServerError, "api_error", error.Code, error.Message),
    };

    /// <summary>Writes the error; the request must not have started its response.</summary>
    public async Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = Status;
        if (RetryAfter is { } after)
        {
            response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(after.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(response.BodyWriter, GatewayError.JsonOptions);
        WriteBody(writer);
        await writer.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>The <c>{"error": …}</c> object (also sent as a stream's last event when a run fails mid-stream).</summary>
    public void WriteBody(Utf8JsonWriter writer) => WriteBody(writer, null);

    /// <summary>The <c>{"error": …}</c> object with <paramref name="more"/> properties after it.</summary>
    public void WriteBody(Utf8JsonWriter writer, Action<Utf8JsonWriter>? more)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", Message);
        writer.WriteString("type", Type);
        writer.WriteString("code", Code);
        if (Param is null)
        {
            writer.WriteNull("param");
        }
        else
        {
            writer.WriteString("param", Param);
        }

        writer.WriteEndObject();
        more?.Invoke(writer);
        writer.WriteEndObject();
    }
}
