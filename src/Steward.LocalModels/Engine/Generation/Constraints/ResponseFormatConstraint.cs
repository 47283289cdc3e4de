using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Engine.Generation.Constraints;

/// <summary>
/// Turns <see cref="ChatOptions.ResponseFormat"/> into a token constraint: <see cref="ChatResponseFormat.Json"/> gives
/// any JSON object, a JSON-schema format gives documents of that schema (<see cref="JsonSchemaCompiler"/>), text gives
/// none.
/// </summary>
internal static class ResponseFormatConstraint
{
    /// <param name="format">The requested format.</param>
    /// <param name="vocabulary">The model's vocabulary (built on first use).</param>
    /// <param name="stopTokens">Tokens that end generation; allowed only once the document is whole.</param>
    /// <param name="budget">Tokens the generation may produce at most.</param>
    /// <exception cref="NotSupportedException">The schema uses something constrained decoding cannot enforce.</exception>
    /// <exception cref="ArgumentException">The shortest valid document does not fit in <paramref name="budget"/>.</exception>
    public static JsonTokenConstraint? Create(ChatResponseFormat? format, Lazy<TokenVocabulary> vocabulary, IReadOnlySet<int> stopTokens, int budget)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var grammar = format switch
        {
            ChatResponseFormatJson { Schema: { } schema } => JsonSchemaCompiler.Compile(schema),
            ChatResponseFormatJson => JsonGrammar.AnyObject(),
            _ => null,
        };
        if (grammar is null)
        {
            return null;
        }

        var constraint = new JsonTokenConstraint(grammar, vocabulary.Value, stopTokens);
        if (constraint.MinimumTokens > budget)
        {
            throw new ArgumentException(
                $"The response format needs at least {constraint.MinimumTokens} output tokens for its shortest valid JSON, but only {budget} are allowed (raise MaxOutputTokens).",
                nameof(budget));
        }

        return constraint;
    }
}
