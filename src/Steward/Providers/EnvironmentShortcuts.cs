using Microsoft.Extensions.Configuration;

namespace Steward.Providers;

/// <summary>
/// Maps the environment variables people already have (<c>OPENAI_API_KEY</c>, <c>AZURE_OPENAI_ENDPOINT</c>,
/// <c>OLLAMA_HOST</c>, <c>STEWARD_MODEL</c>, <c>STEWARD_DB</c>, …) onto Steward's configuration keys. Added as the
/// lowest-priority source, so <c>appsettings.json</c> and <c>Steward__…</c> variables still win.
/// </summary>
public static class EnvironmentShortcuts
{
    /// <summary>Inserts the shortcut source beneath every other configuration source.</summary>
    public static IConfigurationBuilder AddStewardEnvironmentShortcuts(this IConfigurationBuilder builder, IDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var values = Map(environment ?? ReadEnvironment());
        builder.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = values });
        return builder;
    }

    internal static Dictionary<string, string?> Map(IDictionary<string, string?> env)
    {
        var map = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        string? Get(string name) => env.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        if (Get("OPENAI_API_KEY") is { } openAiKey)
        {
            map["Steward:Providers:openai:Kind"] = ProviderKinds.OpenAI;
            map["Steward:Providers:openai:ApiKey"] = openAiKey;
            if (Get("OPENAI_BASE_URL") is { } baseUrl) map["Steward:Providers:openai:Endpoint"] = baseUrl;
            if (Get("OPENAI_MODEL") is { } model) map["Steward:Providers:openai:Model"] = model;
        }
        else if (Get("OPENAI_BASE_URL") is { } compatibleUrl)
        {
            // A base URL without a key is a local OpenAI-compatible server (vLLM, LM Studio, llama.cpp server).
            map["Steward:Providers:openai-compatible:Kind"] = ProviderKinds.OpenAICompatible;
            map["Steward:Providers:openai-compatible:Endpoint"] = compatibleUrl;
            if (Get("OPENAI_MODEL") is { } model) map["Steward:Providers:openai-compatible:Model"] = model;
        }

        if (Get("AZURE_OPENAI_ENDPOINT") is { } azureEndpoint)
        {
            map["Steward:Providers:azure-openai:Kind"] = ProviderKinds.AzureOpenAI;
            map["Steward:Providers:azure-openai:Endpoint"] = azureEndpoint;
            if (Get("AZURE_OPENAI_API_KEY") is { } azureKey) map["Steward:Providers:azure-openai:ApiKey"] = azureKey;
            if (Get("AZURE_OPENAI_DEPLOYMENT") is { } deployment) map["Steward:Providers:azure-openai:Model"] = deployment;
        }

        if (Get("AZURE_AI_PROJECT_ENDPOINT") is { } project)
        {
            map["Steward:Providers:foundry:Kind"] = ProviderKinds.FoundryAgent;
            map["Steward:Providers:foundry:Endpoint"] = project;
            if (Get("AZURE_AI_PROJECT_API_KEY") is { } projectKey) map["Steward:Providers:foundry:ApiKey"] = projectKey;
            if (Get("AZURE_AI_MODEL_DEPLOYMENT_NAME") is { } deployment) map["Steward:Providers:foundry:Model"] = deployment;
        }

        if (Get("OLLAMA_HOST") is { } ollamaHost)
        {
            map["Steward:Providers:ollama:Kind"] = ProviderKinds.Ollama;
            map["Steward:Providers:ollama:Endpoint"] = ollamaHost.Contains("://", StringComparison.Ordinal) ? ollamaHost : "http://" + ollamaHost;
            if (Get("OLLAMA_MODEL") is { } model) map["Steward:Providers:ollama:Model"] = model;
        }

        if (Get("STEWARD_MODEL") is { } localModel)
        {
            map["Steward:Providers:local:Kind"] = ProviderKinds.Local;
            map["Steward:Providers:local:Model"] = FromCallersFolder(localModel, Get("PWD"));
        }

        if (Get("SEARXNG_URL") is { } searxng)
        {
            map["Steward:WebSearch:SearxngUrl"] = searxng;
        }

        if (Get("BRAVE_API_KEY") is { } brave)
        {
            map["Steward:WebSearch:BraveApiKey"] = brave;
        }

        if (Get("TAVILY_API_KEY") is { } tavily)
        {
            map["Steward:WebSearch:TavilyApiKey"] = tavily;
        }

        if (Get("STEWARD_DB") is { } db)
        {
            map["Steward:Storage:Database"] = db;
        }

        // Sign-in of the web app: local accounts, and OpenID Connect's three settings every issuer documents.
        if (Get("STEWARD_LOCAL_ACCOUNTS") is { } local)
        {
            map["Steward:Auth:LocalAccounts"] = local;
        }

        if (Get("STEWARD_OIDC_AUTHORITY") is { } authority)
        {
            map["Steward:Auth:Oidc:Authority"] = authority;
        }

        if (Get("STEWARD_OIDC_CLIENT_ID") is { } clientId)
        {
            map["Steward:Auth:Oidc:ClientId"] = clientId;
        }

        if (Get("STEWARD_OIDC_CLIENT_SECRET") is { } clientSecret)
        {
            map["Steward:Auth:Oidc:ClientSecret"] = clientSecret;
        }

        return map;
    }

    /// <summary>
    /// A relative model file as the user meant it: from the folder they typed the command in. <c>dotnet run</c> starts a
    /// web project in the project's own folder (src/Steward.Web), so <c>STEWARD_MODEL=tests/models/x.gguf</c> typed at the
    /// repository's root named a file that was not there; the shell's <c>PWD</c> still names the user's folder. A file
    /// that exists from the process's own folder, a model name and an absolute path are kept as they are.
    /// </summary>
    internal static string FromCallersFolder(string model, string? callersFolder)
    {
        if (!Steward.LocalModels.Models.ModelStore.LooksLikePath(model) || Path.IsPathRooted(model) || File.Exists(model) || callersFolder is null || !Path.IsPathRooted(callersFolder))
        {
            return model;
        }

        var fromCaller = Path.GetFullPath(model, callersFolder);
        return File.Exists(fromCaller) ? fromCaller : model;
    }

    private static Dictionary<string, string?> ReadEnvironment()
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = entry.Value as string;
        }

        return result;
    }
}
