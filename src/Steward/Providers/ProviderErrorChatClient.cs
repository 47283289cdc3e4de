using System.ClientModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Steward.Providers;

/// <summary>
/// Turns the many ways a provider SDK fails (ClientResultException, HttpRequestException, socket errors, SDK
/// timeouts) into one <see cref="ProviderException"/> with a clear message that contains no secret. The caller's
/// own cancellation passes through untouched.
/// </summary>
internal sealed class ProviderErrorChatClient(IChatClient inner, ResolvedProvider provider, IReadOnlyCollection<string> secrets)
    : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IAsyncEnumerator<ChatResponseUpdate> enumerator;
        try
        {
            enumerator = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        }
        catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
        {
            throw translated;
        }

        await using (enumerator.ConfigureAwait(false))
        {
            var answering = false;
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                    {
                        // The OpenAI SDKs read a reply with no server-sent event in it (a web page at the configured address)
                        // as an empty stream, not as an error: said here, or the run would blame a dropped connection.
                        if (!answering && provider.Kind is ProviderKinds.OpenAI or ProviderKinds.OpenAICompatible or ProviderKinds.AzureOpenAI)
                        {
                            throw new ProviderException(provider.Name, ProviderFailureKind.Unknown, Redact(
                                $"{Who} sent no answer: its reply held no events of a streamed answer. {CheckEndpoint}"));
                        }

                        yield break;
                    }

                    update = enumerator.Current;
                    answering = true;
                }
                catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
                {
                    throw translated;
                }

                yield return update;
            }
        }
    }

    private ProviderException? Translate(Exception ex, CancellationToken cancellationToken)
    {
        // A request that does not fit the model (or the model's chat template) is the request's problem, with its own
        // message, not the provider's failure.
        if (ex is ProviderException or LocalModels.ContextWindowExceededException or LocalModels.ChatTemplateException
            || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            return null;
        }

        var (kind, detail) = Classify(ex);
        // The detail goes inside a sentence of ours, which has its own full stop.
        detail = detail.TrimEnd('.');

        var message = kind switch
        {
            ProviderFailureKind.Incomplete =>
                $"{Who} ended its answer early: the connection closed before the answer was complete ({detail}). Ask again.",
            ProviderFailureKind.Unauthorized =>
                $"{Who} rejected the credentials ({detail}). Check the API key or identity configured for provider '{provider.Name}'.",
            ProviderFailureKind.NotFound =>
                $"{Who} does not know model '{provider.Model}' ({detail}). Check the model or deployment name.",
            ProviderFailureKind.RateLimited =>
                $"{Who} is rate-limiting requests ({detail}). Wait and retry, or raise the quota.",
            ProviderFailureKind.ServerError =>
                $"{Who} had a server error ({detail}). Retry later.",
            ProviderFailureKind.Timeout =>
                $"{Who} did not answer within {provider.Options.TimeoutSeconds} s. Retry, or raise Steward:Providers:{provider.Name}:TimeoutSeconds.",
            ProviderFailureKind.Unreachable =>
                $"{Who} cannot be reached at {Endpoint} ({detail}). Check that the server is running and the endpoint is right.",
            ProviderFailureKind.BadRequest =>
                $"{Who} refused the request ({detail}).",
            _ when Chain(ex).Any(e => e is System.Text.Json.JsonException) =>
                $"{Who} answered with something that is not an OpenAI-style reply ({detail}). {CheckEndpoint}",
            _ => $"{Who} failed: {detail}.",
        };
        // The provider's own exception holds its raw reply (a rejected key, echoed): loggers print inner exceptions, so
        // what is kept for diagnostics is its type and redacted message, never the exception itself.
        return new ProviderException(provider.Name, kind, Redact(message), new ProviderDiagnosticException(Redact($"{ex.GetType().FullName}: {ex.Message}".ReplaceLineEndings(" "))));
    }

    private string Who => $"Provider '{provider.Name}' ({provider.Kind})";

    private string CheckEndpoint => $"Check that {Endpoint} is the API's base address (it usually ends in /v1), not a web page.";

    private static IEnumerable<Exception> Chain(Exception ex)
    {
        for (var current = ex; current is not null; current = current.InnerException)
        {
            yield return current;
        }
    }

    private string Endpoint => provider.Options.Endpoint is { Length: > 0 } e ? Net.UrlRedaction.Strip(e)! : provider.Info.DefaultEndpoint ?? "its endpoint";

    private (ProviderFailureKind Kind, string Detail) Classify(Exception ex)
    {
        // The kind's own reading first: it knows its SDK's exceptions better than the common rules below.
        if (provider.Info.Classify?.Invoke(ex) is { } own)
        {
            return own;
        }

        foreach (var current in Chain(ex))
        {
            switch (current)
            {
                case ClientResultException { Status: > 0 } result:
                    return (FromStatus(result.Status), $"HTTP {result.Status}{ServerMessage(result.Message)}");
                case HttpRequestException { StatusCode: { } status }:
                    return (FromStatus((int)status), $"HTTP {(int)status}");
                // Reset while the reply was read: the server took the request and went away, it was reachable.
                case IOException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted } reset }:
                    return (ProviderFailureKind.Incomplete, reset.SocketErrorCode.ToString());
                case SocketException socket:
                    return (ProviderFailureKind.Unreachable, socket.SocketErrorCode.ToString());
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError } http:
                    return (ProviderFailureKind.Unreachable, http.HttpRequestError.ToString());
                case HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded }:
                case HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }:
                    return (ProviderFailureKind.Incomplete, nameof(HttpRequestError.ResponseEnded));
                case TimeoutException:
                case TaskCanceledException:
                    return (ProviderFailureKind.Timeout, "timeout");
            }
        }

        return (ProviderFailureKind.Unknown, $"{ex.GetType().Name}: {FirstLine(ex.Message)}");
    }

    internal static ProviderFailureKind FromStatus(int status) => status switch
    {
        401 or 403 => ProviderFailureKind.Unauthorized,
        404 => ProviderFailureKind.NotFound,
        408 => ProviderFailureKind.Timeout,
        429 => ProviderFailureKind.RateLimited,
        >= 500 => ProviderFailureKind.ServerError,
        _ => ProviderFailureKind.BadRequest,
    };

    // The SDK's message has the shape "HTTP 404 (type: code)\n\nThe model `x` does not exist". The server's own
    // sentence helps the user; anything that could echo a key is redacted afterwards.
    private static string ServerMessage(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var text = lines.Skip(1).FirstOrDefault(l => !l.StartsWith("Status:", StringComparison.Ordinal));
        return text is null ? "" : ": " + (text.Length > 200 ? text[..200] + "…" : text);
    }

    internal static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 200 ? line[..200] + "…" : line;
    }

    private string Redact(string message) => SecretRedactor.Redact(message, secrets);
}
