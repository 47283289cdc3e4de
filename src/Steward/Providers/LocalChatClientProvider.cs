using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Steward.LocalModels;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Models;

namespace Steward.Providers;

/// <summary>Settings of the embedded engine. Bound from <c>Steward:LocalModels</c>.</summary>
public sealed class LocalEngineOptions
{
    /// <summary>Where pulled models are kept. Default: <c>STEWARD_MODELS</c>, else the user's data folder.</summary>
    public string? ModelsDirectory { get; set; }

    /// <summary>Compute threads; default all cores.</summary>
    public int? Threads { get; set; }

    /// <summary>Largest context window in tokens. Default 4096.</summary>
    public int ContextLength { get; set; } = 4096;

    /// <summary>Calls one loaded model generates at once (1 to 64), each with its own KV cache; more wait their turn. Default 4.</summary>
    public int ParallelRequests { get; set; } = 4;

    /// <summary>
    /// Reads the model into memory of its own (2 MiB pages where Linux allows: 8-20% faster generation) instead of mapping
    /// the file. False shares the file's pages with other processes that map the same model. Default true.
    /// </summary>
    public bool ResidentWeights { get; set; } = true;
}

/// <summary>
/// The embedded GGUF engine. The model is a <c>.gguf</c> path or a known model name pulled into the model cache;
/// when it is absent, the error says in one message how to pull it or configure another provider.
/// </summary>
internal sealed class LocalChatClientProvider(ModelStore store, IOptions<LocalEngineOptions> options) : IChatClientProvider
{
    internal const string NoModelAdvice =
        "Pull one with `dotnet run --project src/Steward.Cli -- models pull smollm2-360m`, " +
        "set STEWARD_MODEL to a .gguf file, or configure a provider: OPENAI_API_KEY (OpenAI), AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_DEPLOYMENT " +
        "(Azure OpenAI), OLLAMA_HOST (Ollama) or OPENAI_BASE_URL (an OpenAI-compatible server).";

    internal const string DefaultModel = "smollm2-360m";

    internal static ProviderKindInfo Description { get; } = new()
    {
        Kind = ProviderKinds.Local,
        DefaultOrder = 50,
        DefaultModel = DefaultModel,
        SelfHosted = true,
        Tokenizer = PromptTokenizer.ModelsOwn,
        // The engine refuses what it cannot do for this request before it generates anything (a JSON schema it cannot
        // enforce, an output cap below the shortest valid document): the request's fault, said as the engine put it.
        Classify = static ex => ex is NotSupportedException or ArgumentException
            ? (ProviderFailureKind.BadRequest, $"{ex.GetType().Name}: {ProviderErrorChatClient.FirstLine(ex.Message)}")
            : null,
    };

    public string Kind => ProviderKinds.Local;

    public ProviderKindInfo Info => Description;

    public IChatClient CreateClient(ResolvedProvider provider)
    {
        string path;
        try
        {
            path = store.Resolve(provider.Model);
        }
        catch (ModelNotFoundException ex)
        {
            throw new ProviderNotConfiguredException($"The embedded engine has no model '{provider.Model}'. {NoModelAdvice}", ex);
        }

        if (options.Value.ParallelRequests is < 1 or > LocalModelOptions.MaxParallelRequests)
        {
            throw new ProviderNotConfiguredException($"Steward:LocalModels:ParallelRequests must be between 1 and {LocalModelOptions.MaxParallelRequests}; it is {options.Value.ParallelRequests}.");
        }

        try
        {
            return LocalChatClient.Load(path, new LocalModelOptions
            {
                ModelPath = path,
                Threads = options.Value.Threads,
                ContextLength = options.Value.ContextLength,
                ParallelRequests = options.Value.ParallelRequests,
                ResidentWeights = options.Value.ResidentWeights,
            });
        }
        catch (GgufFormatException ex)
        {
            throw new ProviderNotConfiguredException($"The embedded engine cannot use '{path}': {ex.Message}", ex);
        }
    }
}
