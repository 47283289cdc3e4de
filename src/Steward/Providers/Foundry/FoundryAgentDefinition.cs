using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Steward.Agents;

namespace Steward.Providers.Foundry;

/// <summary>
/// What a preset becomes in a Foundry project: a <c>prompt</c> agent named after the preset, with the preset's
/// instructions, the provider's model and the preset's web search as a hosted tool (<c>web_search_preview</c>, or
/// <c>bing_grounding</c> when the provider names a Bing connection). Its hash, stored in the version's metadata, is how
/// every process finds the version that matches the preset instead of creating another. Immutable.
/// </summary>
internal sealed class FoundryAgentDefinition
{
    /// <summary>Metadata key holding the definition hash; its presence marks a version Steward created.</summary>
    public const string HashKey = "steward_definition_hash";

    /// <summary>Metadata key holding the preset version the definition was made from (joins runs to versions).</summary>
    public const string PresetVersionKey = "steward_preset_version";

    private FoundryAgentDefinition(string agentName, JsonObject definition, string presetVersion)
    {
        AgentName = agentName;
        Definition = definition;
        PresetVersion = presetVersion;
        Hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(definition.ToJsonString())));
    }

    /// <summary>The Foundry agent name: the preset name with underscores as hyphens (Foundry allows letters, digits and hyphens).</summary>
    public string AgentName { get; }

    /// <summary>The <c>definition</c> object sent to Foundry.</summary>
    public JsonObject Definition { get; }

    /// <summary>SHA-256 of the definition's JSON (properties in a fixed order), hex.</summary>
    public string Hash { get; }

    public string PresetVersion { get; }

    /// <summary>The metadata a version created for this definition carries.</summary>
    public Dictionary<string, string> Metadata() => new(StringComparer.Ordinal)
    {
        [HashKey] = Hash,
        [PresetVersionKey] = PresetVersion,
        ["created_by"] = "steward",
    };

    public static string AgentNameOf(string presetName) => presetName.Replace('_', '-');

    public static FoundryAgentDefinition For(AgentPreset preset, ResolvedProvider provider)
    {
        ArgumentNullException.ThrowIfNull(preset);
        ArgumentNullException.ThrowIfNull(provider);
        var tools = new JsonArray();
        if (preset.EnableWebSearch)
        {
            tools.Add(provider.Options.BingConnectionId is { Length: > 0 } connection
                ? new JsonObject
                {
                    ["type"] = "bing_grounding",
                    ["bing_grounding"] = new JsonObject
                    {
                        ["search_configurations"] = new JsonArray(new JsonObject { ["project_connection_id"] = connection }),
                    },
                }
                : new JsonObject { ["type"] = "web_search_preview" });
        }

        var definition = new JsonObject
        {
            ["kind"] = "prompt",
            ["model"] = provider.Model,
            ["instructions"] = preset.Instructions,
        };
        if (preset.Temperature is { } temperature)
        {
            definition["temperature"] = temperature;
        }

        definition["tools"] = tools;
        return new FoundryAgentDefinition(AgentNameOf(preset.Name), definition, preset.Version);
    }
}
