using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Steward.Tools;

/// <summary>
/// Every tool a run offers goes through this wrapper. Tool results are untrusted input and tools fail: a call that needs
/// approval asks the run's approver first (no approver, no answer in time: denied); it gets a time limit; its result is
/// cut to <see cref="ToolOptions.MaxResultCharacters"/>; and any failure (a timeout, an exception, an MCP server that
/// died, an error result) reaches the model as an error result, never as an exception that ends the run. Keys are
/// scrubbed from what the model is told. The outcome of each call is recorded on the <see cref="ToolRun"/>.
/// </summary>
internal sealed class GuardedFunction(AIFunction inner, ToolRun run, bool requireApproval, string? server, TimeProvider time) : DelegatingAIFunction(inner)
{
    /// <summary>Where a caller outside a tool loop passes the call's id in <see cref="AIFunctionArguments.Context"/>.</summary>
    internal const string CallIdKey = "steward.tool_call_id";

    /// <summary>The MCP server the tool comes from, if any.</summary>
    public string? Server => server;

    public bool RequiresApproval => requireApproval;

    protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        var callId = FunctionInvokingChatClient.CurrentContext?.CallContent.CallId
            ?? (arguments.Context?.TryGetValue(CallIdKey, out var id) == true ? id as string : null)
            ?? Guid.NewGuid().ToString("N");
        string? approval = null;
        if (requireApproval)
        {
            var approved = await AskAsync(callId, arguments, cancellationToken).ConfigureAwait(false);
            approval = approved ? "approved" : "denied";
            if (!approved)
            {
                var denied = $"The call of {Name} was denied: it needs a person's approval and was not approved, so it did not run. Do not call it again for this request; answer with what you have and say what you could not check.";
                run.Record(callId, new ToolCallOutcome(TimeSpan.Zero, "Denied: not approved.", approval, server));
                return denied;
            }
        }

        var started = time.GetTimestamp();
        string? error = null;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(run.Options.TimeoutSeconds));
            object? result;
            try
            {
                result = await base.InvokeCoreAsync(arguments, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                error = string.Create(CultureInfo.InvariantCulture, $"{Name} did not finish within {run.Options.TimeoutSeconds} s (Steward:Tools:TimeoutSeconds).");
                return "Error: " + error;
            }

            var (text, failed) = ToText(result);
            text = Providers.SecretRedactor.Redact(text, run.Secrets);
            if (failed)
            {
                error = SourceLedger.Shorten(text, 300);
                return "Error: " + Limit(text);
            }

            return Limit(text);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            error = Providers.SecretRedactor.Redact(Describe(ex), run.Secrets);
            return "Error: " + error;
        }
        finally
        {
            run.Record(callId, new ToolCallOutcome(time.GetElapsedTime(started), error, approval, server));
        }
    }

    private async Task<bool> AskAsync(string callId, AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        if (run.Approver is not { } approver)
        {
            return false;
        }

        var request = new ToolApprovalRequest(Guid.NewGuid().ToString("N"), callId, Name, ToolCallText.Arguments(arguments), server);
        if (run.OnApprovalRequested is { } announce)
        {
            await announce(request).ConfigureAwait(false);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(run.Options.ApprovalTimeoutSeconds));
        try
        {
            return await approver.ApproveAsync(request, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Nobody answered in time: no is the safe answer.
            return false;
        }
    }

    private string Limit(string text)
    {
        var max = run.Options.MaxResultCharacters;
        return text.Length <= max
            ? text
            : text[..max] + string.Create(CultureInfo.InvariantCulture, $"\n[cut: the result had {text.Length:N0} characters; {max:N0} are shown]");
    }

    private string Describe(Exception ex) => ex switch
    {
        Search.WebSearchException => ex.Message,
        Mcp.McpToolException => ex.Message,
        ArgumentException or JsonException => $"{Name} was called with invalid arguments: {ex.Message}",
        _ when server is not null => $"MCP server '{server}' failed running {Name}: {FirstLine(ex.Message)}",
        _ => $"{Name} failed ({ex.GetType().Name}): {FirstLine(ex.Message)}",
    };

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] + "…" : line;
    }

    /// <summary>A tool's result as text, and whether it says it failed (an MCP result's <c>isError</c>).</summary>
    internal static (string Text, bool Failed) ToText(object? result)
    {
        switch (result)
        {
            case null:
                return ("", false);
            case string s:
                return (s, false);
            case JsonElement json:
                return FromJson(json);
            case TextContent text:
                return (text.Text, false);
            case IEnumerable<AIContent> contents:
                return (string.Join("\n", contents.OfType<TextContent>().Select(t => t.Text)), false);
            default:
                var element = JsonSerializer.SerializeToElement(result, AIJsonUtilities.DefaultOptions);
                return FromJson(element);
        }
    }

    private static (string Text, bool Failed) FromJson(JsonElement json)
    {
        if (json.ValueKind == JsonValueKind.String)
        {
            return (json.GetString() ?? "", false);
        }

        // An MCP CallToolResult: { content: [{ type: "text", text }], isError }.
        if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            var text = new StringBuilder();
            foreach (var part in content.EnumerateArray())
            {
                if (part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    text.Append(text.Length > 0 ? "\n" : "").Append(t.GetString());
                }
            }

            var failed = json.TryGetProperty("isError", out var isError) && isError.ValueKind == JsonValueKind.True;
            return (text.ToString(), failed);
        }

        return (json.GetRawText(), false);
    }
}

/// <summary>How tool calls are shown: arguments as compact JSON and results as short previews.</summary>
public static class ToolCallText
{
    /// <summary>Longest arguments text kept for display and storage.</summary>
    public const int MaxArgumentCharacters = 2_000;

    /// <summary>Longest result preview kept for display and storage.</summary>
    public const int MaxPreviewCharacters = 400;

    /// <summary>The arguments as compact JSON, shortened.</summary>
    public static string Arguments(IDictionary<string, object?>? arguments)
    {
        if (arguments is null || arguments.Count == 0)
        {
            return "{}";
        }

        var json = JsonSerializer.Serialize(arguments, Compact);
        return SourceLedger.Shorten(json, MaxArgumentCharacters);
    }

    private static readonly JsonSerializerOptions Compact = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    /// <summary>The first characters of a result, on one line.</summary>
    public static string Preview(object? result)
    {
        var (text, _) = GuardedFunction.ToText(result);
        return SourceLedger.Shorten(text.ReplaceLineEndings(" "), MaxPreviewCharacters);
    }
}
