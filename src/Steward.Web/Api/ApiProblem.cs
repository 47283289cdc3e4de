using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Steward.Web.Api;

/// <summary>
/// A request the API refuses, thrown inside a handler and answered as <c>application/problem+json</c> by
/// <see cref="ApiProblemFilter"/>: the status, a short title, and a detail that names what is wrong and how to fix it.
/// </summary>
internal sealed class ApiProblem(int status, string title, string detail, string? field = null) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;

    /// <summary>The request field at fault (<c>message</c>, <c>runs[2].usage</c>), when there is one.</summary>
    public string? Field { get; } = field;

    public static ApiProblem Invalid(string field, string fix) => new(StatusCodes.Status400BadRequest, "Invalid request", $"{field}: {fix}", field);

    public static ApiProblem NotFound(string title, string detail) => new(StatusCodes.Status404NotFound, title, detail);

    public ProblemHttpResult ToResult() => TypedResults.Problem(
        Message, statusCode: Status, title: Title, extensions: Field is null ? null : new Dictionary<string, object?> { ["field"] = Field });
}

/// <summary>
/// Turns an <see cref="ApiProblem"/> thrown by any handler of the group into its ProblemDetails response, and any other
/// failure into a 500 ProblemDetails that says nothing of its cause (which is logged): an API caller never gets the UI's
/// error page.
/// </summary>
internal sealed partial class ApiProblemFilter(ILogger<ApiProblemFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (ApiProblem problem) when (!context.HttpContext.Response.HasStarted)
        {
            return problem.ToResult();
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !context.HttpContext.Response.HasStarted)
        {
            LogUnexpected(ex, context.HttpContext.Request.Method, context.HttpContext.Request.Path);
            return TypedResults.Problem(
                "Steward could not complete the request; the server log has the details (search it for this problem's traceId).",
                statusCode: StatusCodes.Status500InternalServerError, title: "Unexpected error");
        }
    }

    [LoggerMessage(EventId = 4102, Level = LogLevel.Error, Message = "The API request {Method} {Path} failed unexpectedly.")]
    private partial void LogUnexpected(Exception exception, string method, string path);
}

/// <summary>
/// Reads JSON request bodies for the API within a size limit, so a bad body is a ProblemDetails naming the line, the
/// field or the limit, never the framework's generic "failed to read parameter".
/// </summary>
internal static class ApiBody
{
    /// <summary>The JSON the API reads and writes: the web defaults (camelCase), enums as strings, unknown fields refused.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    /// <summary>Reads the body as <typeparamref name="T"/>.</summary>
    /// <exception cref="ApiProblem">415 not JSON, 413 too large, 400 malformed or of the wrong shape.</exception>
    public static async Task<T> ReadAsync<T>(HttpContext context, long maxBytes, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(context);
        var stream = Open(context, maxBytes);
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(stream, JsonOptions, cancellationToken).ConfigureAwait(false)
                ?? throw new ApiProblem(StatusCodes.Status400BadRequest, "Invalid request", "The request body is null. Send one JSON object.");
        }
        catch (JsonException ex)
        {
            throw Malformed(ex, typeof(T));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(maxBytes);
        }
    }

    /// <summary>The body as a stream that ends (413) past <paramref name="maxBytes"/>, after checking it is JSON.</summary>
    /// <exception cref="ApiProblem">415 not JSON, 413 declared larger than the limit.</exception>
    public static Stream Open(HttpContext context, long maxBytes)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        if (!request.HasJsonContentType())
        {
            throw new ApiProblem(StatusCodes.Status415UnsupportedMediaType, "Unsupported content type",
                $"The request body must be JSON (Content-Type: application/json), not '{request.ContentType ?? "none"}'.");
        }

        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        return request.Body;
    }

    public static ApiProblem TooLarge(long maxBytes) => new(StatusCodes.Status413PayloadTooLarge, "Request too large",
        string.Create(CultureInfo.InvariantCulture, $"The request body is larger than the API takes ({maxBytes:N0} bytes, Steward:Api). Send less, or raise the limit."));

    /// <summary>The problem a <see cref="JsonException"/> reading a <paramref name="target"/> stands for, naming the field when there is one.</summary>
    public static ApiProblem Malformed(JsonException ex, Type target)
    {
        ArgumentNullException.ThrowIfNull(ex);
        ArgumentNullException.ThrowIfNull(target);
        var where = ex.LineNumber is { } line ? FormattableString.Invariant($" at line {line + 1}, position {ex.BytePositionInLine + 1}") : "";
        var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? null : ex.Path.TrimStart('$', '.');
        if (Regex.Match(ex.Message, "^The JSON property '(?<name>[^']+)' could not be mapped") is { Success: true } unknown)
        {
            var property = unknown.Groups["name"].Value;
            var name = field is null ? property : field == property || field.EndsWith("." + property, StringComparison.Ordinal) ? field : field + "." + property;
            return new ApiProblem(StatusCodes.Status400BadRequest, "Invalid request", $"{name}: not a field of this request; remove it (the fields are listed at /api/docs).", name);
        }

        if (field is not null && ex.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
        {
            // The message names the containing type for a record's constructor parameter; the field's own type says what was expected.
            var type = target.GetProperty(field, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)?.PropertyType;
            var expected = type is null ? "of the type the API documents (see /api/docs)" : Describe(type);
            return new ApiProblem(StatusCodes.Status400BadRequest, "Invalid request", $"{field}: must be {expected}{where}.", field);
        }

        // A syntax error: the serializer's first sentence says what it met.
        var why = ex.Message.Split(" Path:", 2)[0].Split(". ", 2)[0].TrimEnd('.');
        return new ApiProblem(StatusCodes.Status400BadRequest, "Malformed JSON", $"The request body is not valid JSON{where}: {why}. Send one JSON object.");
    }

    /// <summary>A request field's type as the JSON it takes, for people.</summary>
    private static string Describe(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(type));
        }

        return type == typeof(string) ? "a string"
            : type == typeof(Guid) ? "an id (a GUID such as 0198c3a2-5b6e-7c1d-8e9f-0a1b2c3d4e5f)"
            : type == typeof(int) || type == typeof(long) ? "a whole number"
            : type == typeof(decimal) || type == typeof(double) ? "a number"
            : type == typeof(bool) ? "true or false"
            : type == typeof(DateTimeOffset) || type == typeof(DateTime) ? "a date and time in ISO 8601 (2026-11-30T12:00:00Z)"
            : type != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(type) ? "a list"
            : "an object (see /api/docs)";
    }
}
