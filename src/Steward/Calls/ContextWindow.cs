using Microsoft.Extensions.AI;
using Steward.LocalModels;

namespace Steward.Calls;

/// <summary>
/// What fits a model's context window, for models whose window Steward knows (the embedded engine's): the output cap
/// fitted to the room the prompt leaves, and a conversation's oldest turns left out when it has outgrown the window.
/// </summary>
public static class ContextWindow
{
    /// <summary>The least room for an answer worth asking for; below it the request does not fit.</summary>
    public const int MinimumAnswerTokens = 16;

    /// <summary>The window of the model behind <paramref name="client"/>, when Steward knows it.</summary>
    public static int? Of(IChatClient client) => client?.GetService<LocalChatClient>()?.ContextLength;

    /// <summary>The cap that fits: <paramref name="cap"/>, or the room the prompt leaves if that is less.</summary>
    /// <exception cref="ContextWindowExceededException">The prompt leaves less than <see cref="MinimumAnswerTokens"/> for the answer.</exception>
    public static int FitCap(long promptTokens, int cap, int window)
    {
        var room = window - promptTokens;
        if (room < MinimumAnswerTokens)
        {
            throw new ContextWindowExceededException((int)Math.Min(promptTokens, int.MaxValue), 0, window);
        }

        return (int)Math.Min(cap, room);
    }

    /// <summary>
    /// Leaves out the oldest turns of <paramref name="messages"/> (the last message, the question, always stays) until
    /// the prompt leaves room for <paramref name="answerTokens"/> (at least <see cref="MinimumAnswerTokens"/>) in
    /// <paramref name="window"/>. Returns the messages kept and how many were left out.
    /// </summary>
    public static (IReadOnlyList<ChatMessage> Messages, int LeftOut) Fit(
        IReadOnlyList<ChatMessage> messages, Func<IReadOnlyList<ChatMessage>, long> countPrompt, int answerTokens, int window)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(countPrompt);
        var want = Math.Max(Math.Min(answerTokens, window / 2), MinimumAnswerTokens);
        var start = 0;
        // Whole exchanges go: a user turn with the replies and tool results that follow it, so no reply loses its question.
        while (start < messages.Count - 1 && countPrompt(messages.Skip(start).ToArray()) + want > window)
        {
            start++;
            while (start < messages.Count - 1 && messages[start].Role != ChatRole.User)
            {
                start++;
            }
        }

        return start == 0 ? (messages, 0) : (messages.Skip(start).ToArray(), start);
    }
}
