using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Steward.Budgets;
using Steward.Providers;

namespace Steward.Tests.Budgets;

public sealed class TokenEstimatorTests
{
    private static ResolvedProvider OpenAI(string model)
    {
        var options = new ProvidersOptions();
        options.Providers["openai"] = new ProviderOptions { Kind = ProviderKinds.OpenAI, ApiKey = "k", Model = model };
        return new ProviderCatalog(Options.Create(options), [new OpenAIChatClientProvider(ProviderKinds.OpenAI)]).Resolve(null, null);
    }

    private static string Long(string seed, int words) =>
        string.Join(' ', Enumerable.Range(0, words).Select(i => $"{seed}{i % 97} {(i % 7 == 0 ? "tokenization" : "the")}"));

    [Fact]
    public void CountPrompt_SameConversationSentAgainWithATurnMore_CountsEveryMessageExactlyAsAlone()
    {
        var provider = OpenAI("gpt-4o-mini");
        var history = new List<ChatMessage>();
        for (var turn = 0; turn < 6; turn++)
        {
            // Each call sends the whole conversation again, as a session's next turn and a tool loop's next step do.
            history.Add(new ChatMessage(turn % 2 == 0 ? ChatRole.User : ChatRole.Assistant, Long("w" + turn, 200 + turn)));
            var fresh = history.Select(m => new ChatMessage(m.Role, new string(m.Text.AsSpan()))).ToList();

            var counted = TokenEstimator.CountPrompt(provider, "Be brief.", fresh);

            var alone = TokenEstimator.CountText(provider, "Be brief.") + history.Sum(m => TokenEstimator.CountText(provider, m.Text));
            Assert.Equal(alone + (history.Count + 1) * 3 + 3, counted);
        }
    }

    [Fact]
    public void CountPrompt_TextsOfTheSameLengthButOtherWords_AreCountedEachByItsOwnWords()
    {
        var provider = OpenAI("gpt-4o-mini");
        var plain = new string('a', 1000);
        var spaced = string.Concat(Enumerable.Repeat("a ", 500));
        Assert.Equal(plain.Length, spaced.Length);

        var first = TokenEstimator.CountPrompt(provider, null, [new ChatMessage(ChatRole.User, plain)]);
        var second = TokenEstimator.CountPrompt(provider, null, [new ChatMessage(ChatRole.User, spaced)]);

        Assert.Equal(TokenEstimator.CountText(provider, plain) + 6, first);
        Assert.Equal(TokenEstimator.CountText(provider, spaced) + 6, second);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void CountPrompt_SameTextForModelsOfOtherTokenizers_CountsWithEachModelsOwn()
    {
        var text = Long("ünïcode-", 300);
        var o200k = OpenAI("gpt-4o");
        var cl100k = OpenAI("gpt-4");

        var byO200k = TokenEstimator.CountPrompt(o200k, null, [new ChatMessage(ChatRole.User, text)]);
        var byCl100k = TokenEstimator.CountPrompt(cl100k, null, [new ChatMessage(ChatRole.User, text)]);

        Assert.Equal(TokenEstimator.CountText(o200k, text) + 6, byO200k);
        Assert.Equal(TokenEstimator.CountText(cl100k, text) + 6, byCl100k);
        Assert.NotEqual(byO200k, byCl100k);
    }

    [Fact]
    public void CountPrompt_ToolsSentWithEveryCall_CountEachSchemaExactlyEveryTime()
    {
        var provider = OpenAI("gpt-4o-mini");
        AITool[] tools =
        [
            AIFunctionFactory.Create((string query, int limit) => query, "search_documents", Long("Searches the documents for ", 60)),
            AIFunctionFactory.Create((string path) => path, "read_file", Long("Reads a file from ", 70)),
        ];
        var expected = tools.Cast<AIFunctionDeclaration>().Sum(t => TokenEstimator.CountText(provider, t.Name + " " + t.Description + " " + t.JsonSchema.GetRawText()));
        ChatMessage[] hi = [new(ChatRole.User, "Hi")];

        var first = TokenEstimator.CountPrompt(provider, null, hi, tools);
        var again = TokenEstimator.CountPrompt(provider, null, hi, tools);

        Assert.Equal(TokenEstimator.CountText(provider, "Hi") + 6 + expected, first);
        Assert.Equal(first, again);
    }
}
