namespace Steward.Web.Gateway;

/// <summary><c>POST /v1/responses</c>: the Responses API over the same stateless runs as chat completions.</summary>
internal static class ResponsesEndpoint
{
    public static Task HandleAsync(HttpContext context, GatewayRuns gateway) => GatewayEndpoints.GuardAsync(context, async () =>
    {
        var key = GatewayKeys.Key(context);
        ResponsesRequest request;
        using (var body = await gateway.ReadBodyAsync(context).ConfigureAwait(false))
        {
            request = ResponsesRequest.Read(body.RootElement);
        }

        var target = gateway.Resolve(request.Model, key);
        var run = gateway.Request(target, key, request.Messages, request.Options, request.MaxOutputTokens, request.Stream, request.UserId, request.Tags);
        var created = gateway.Time.GetUtcNow().ToUnixTimeSeconds();
        if (!request.Stream)
        {
            var response = await gateway.RunAsync(context, run, target, key).ConfigureAwait(false);
            await ResponsesWriter.WriteAsync(context.Response, response, request.Model, created).ConfigureAwait(false);
            return;
        }

        await gateway.StreamAsync(context, run, target, key, new ResponsesWriter.Stream(context.Response, request.Model, created)).ConfigureAwait(false);
    });
}
