using System.Text.Json;
using Microsoft.Extensions.Options;
using Steward.Agents;

namespace Steward.Web.Gateway;

/// <summary>
/// The OpenAI-compatible gateway on the app's own port: <c>POST /v1/chat/completions</c>, <c>POST /v1/responses</c>,
/// <c>GET /v1/models</c>. Every request is a stateless run (budgeted, priced, traced, stored, visible in History,
/// Analytics and Traces); every failure is an OpenAI-shaped error with the status the SDKs expect.
/// </summary>
internal static partial class GatewayEndpoints
{
    public static IServiceCollection AddStewardGateway(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<GatewayOptions>().Bind(configuration.GetSection("Steward:Gateway")).ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton<GatewayTokenLimits>();
        services.AddSingleton<GatewayRuns>();
        services.AddStewardGatewayRateLimits();
        return services;
    }

    public static WebApplication MapStewardGateway(this WebApplication app)
    {
        var v1 = app.MapGroup("/v1").DisableAntiforgery();
        v1.MapPost("/chat/completions", ChatCompletionsAsync);
        v1.MapPost("/responses", ResponsesEndpoint.HandleAsync);
        v1.MapGet("/models", ModelsAsync);
        v1.MapFallback((HttpContext context) => GuardAsync(context, () => throw new GatewayError(StatusCodes.Status404NotFound, "invalid_request_error", "unknown_url",
            $"Unknown request URL: {context.Request.Method} {context.Request.Path}. The gateway serves POST /v1/chat/completions, POST /v1/responses and GET /v1/models.")));
        return app;
    }

    /// <summary>
    /// Runs <paramref name="handle"/>, turning a <see cref="GatewayError"/> thrown before the response started into its
    /// JSON, and any other failure into an OpenAI-shaped 500: an SDK reads every error body as JSON, and the UI's HTML
    /// error page made it fail on parsing instead of raising its own server error. The exception stays in the log.
    /// </summary>
    internal static async Task GuardAsync(HttpContext context, Func<Task> handle)
    {
        try
        {
            await handle().ConfigureAwait(false);
        }
        catch (GatewayError error) when (!context.Response.HasStarted)
        {
            await error.WriteAsync(context.Response).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !context.Response.HasStarted)
        {
            LogGatewayFailed(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GatewayEndpoints)), ex, context.TraceIdentifier);
            await new GatewayError(StatusCodes.Status500InternalServerError, "api_error", "internal_error",
                $"The gateway failed unexpectedly. The server's log has the details under request id {context.TraceIdentifier}.")
                .WriteAsync(context.Response).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 2601, Level = LogLevel.Error, Message = "Gateway request {RequestId} failed unexpectedly.")]
    private static partial void LogGatewayFailed(ILogger logger, Exception exception, string requestId);

    private static Task ChatCompletionsAsync(HttpContext context, GatewayRuns gateway) => GuardAsync(context, async () =>
    {
        var key = GatewayKeys.Key(context);
        ChatCompletionsRequest request;
        using (var body = await gateway.ReadBodyAsync(context).ConfigureAwait(false))
        {
            request = ChatCompletionsRequest.Read(body.RootElement);
        }

        var target = gateway.Resolve(request.Model, key);
        var run = gateway.Request(target, key, request.Messages, request.Options, request.MaxOutputTokens, request.Stream, request.UserId, request.Tags);
        var created = gateway.Time.GetUtcNow().ToUnixTimeSeconds();
        if (!request.Stream)
        {
            var response = await gateway.RunAsync(context, run, target, key).ConfigureAwait(false);
            await ChatCompletionsWriter.WriteAsync(context.Response, response, request.Model, created).ConfigureAwait(false);
            return;
        }

        await gateway.StreamAsync(context, run, target, key, new ChatCompletionsWriter.Stream(context.Response, request.Model, created, request.IncludeUsage))
            .ConfigureAwait(false);
    });

    private static Task ModelsAsync(HttpContext context, PresetCatalog presets, Steward.Providers.ProviderCatalog providers, TimeProvider time) => GuardAsync(context, async () =>
    {
        var key = GatewayKeys.Key(context);
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        var ids = presets.List().Select(p => (Id: p.Name, Owner: "steward"))
            // A model configured as a file (STEWARD_MODEL=/path/to/model.gguf) is listed by its name, never its path on this
            // server's disk; the provider catalog takes that name for the file.
            .Concat(providers.List().Where(p => p.Model is { Length: > 0 }).Select(p => (Id: $"{p.Name}/{StewardModelName(p.Model!)}", Owner: p.Name)))
            .Where(m => key.Allows(m.Id));
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.BodyWriter, GatewayError.JsonOptions);
        json.WriteStartObject();
        json.WriteString("object", "list");
        json.WriteStartArray("data");
        foreach (var (id, owner) in ids)
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("object", "model");
            json.WriteNumber("created", created);
            json.WriteString("owned_by", owner);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    });

    private static string StewardModelName(string model) => Steward.Telemetry.StewardTelemetry.ModelName(model.Trim())!;
}
