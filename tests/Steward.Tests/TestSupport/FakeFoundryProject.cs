using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Steward.Tests.TestSupport;

/// <summary>
/// A Foundry project on a loopback port, speaking the documented JSON of the agents API (<c>api-version=v1</c>: create an
/// agent, add/list/get/delete versions, list/get agents), conversations, and Responses with <c>agent_reference</c> (with
/// and without <c>stream</c>), the Responses part being <see cref="FakeModelServer"/>'s own. Requests need the project's
/// <c>api-key</c>. Thread-safe: several Steward processes use it at once.
/// </summary>
public sealed class FakeFoundryProject : IAsyncDisposable
{
    public const string Key = "foundry-test-key-81c2e7";
    private const string Root = "/api/projects/proj";
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<JsonObject>> _agents = new(StringComparer.Ordinal);
    private readonly List<string> _deleted = [];
    private readonly Dictionary<string, int> _lastVersion = new(StringComparer.Ordinal);
    private int _conversations;
    private long _clock = 1_760_000_000;

    private FakeFoundryProject()
    {
    }

    /// <summary>The model server behind the project's Responses route (its replies and recorded requests).</summary>
    public FakeModelServer Models { get; private set; } = null!;

    /// <summary>The project endpoint, as the Foundry portal shows it.</summary>
    public string Endpoint => Models.BaseUrl + Root;

    /// <summary>How many versions were created through the API (the agent's first included).</summary>
    public int VersionsCreated { get; private set; }

    /// <summary>When set, Responses requests are refused with 429 and this <c>Retry-After</c> (seconds).</summary>
    public int? ThrottleRetryAfterSeconds { get; set; }

    /// <summary>The versions deleted, as <c>name:version</c>.</summary>
    public IReadOnlyList<string> Deleted { get { lock (_gate) { return [.. _deleted]; } } }

    /// <summary>The Responses requests received, in order.</summary>
    public IReadOnlyList<RecordedRequest> Runs => [.. Models.Requests.Where(r => r.Path.EndsWith("/openai/v1/responses", StringComparison.Ordinal))];

    public static async Task<FakeFoundryProject> StartAsync()
    {
        var project = new FakeFoundryProject();
        project.Models = await FakeModelServer.StartAsync((app, models) => project.Map(app, models)).ConfigureAwait(false);
        return project;
    }

    /// <summary>The live versions of an agent (empty when it does not exist).</summary>
    public IReadOnlyList<JsonObject> Versions(string agent)
    {
        lock (_gate)
        {
            return _agents.TryGetValue(agent, out var versions) ? [.. versions.Select(v => (JsonObject)v.DeepClone())] : [];
        }
    }

    /// <summary>Deletes a version as someone in the portal would (not counted in <see cref="Deleted"/>).</summary>
    public void DeleteByHand(string agent, string version)
    {
        lock (_gate)
        {
            _agents[agent].RemoveAll(v => v["version"]!.GetValue<string>() == version);
        }
    }

    /// <summary>Adds a version as someone else would (no Steward metadata).</summary>
    public void AddForeignVersion(string agent, string instructions) =>
        AddVersion(agent, new JsonObject { ["kind"] = "prompt", ["model"] = "gpt-4.1-mini", ["instructions"] = instructions }, new JsonObject(), "made in the portal");

    private void Map(WebApplication app, FakeModelServer models)
    {
        var group = app.MapGroup(Root).AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (http.Request.Headers["api-key"] != Key)
            {
                return Results.Json(Error("unauthorized", "Access denied due to invalid subscription key or wrong API endpoint."), statusCode: 401);
            }

            if (http.Request.Path.Value!.Contains("/agents", StringComparison.Ordinal) && http.Request.Query["api-version"] != "v1")
            {
                return Results.Json(Error("BadRequest", "Missing or unsupported api-version."), statusCode: 400);
            }

            return await next(context).ConfigureAwait(false);
        });

        group.MapPost("/agents", async (HttpContext context) =>
        {
            var body = await ReadAsync(context).ConfigureAwait(false);
            var name = body["name"]!.GetValue<string>();
            lock (_gate)
            {
                if (_agents.ContainsKey(name))
                {
                    return Results.Json(Error("conflict", $"Agent '{name}' already exists."), statusCode: 409);
                }
            }

            AddVersion(name, body["definition"]!.AsObject(), body["metadata"]?.AsObject() ?? [], body["description"]?.GetValue<string>());
            return Results.Json(AgentObject(name)!);
        });
        group.MapGet("/agents", () =>
        {
            lock (_gate)
            {
                return Results.Json(List(_agents.Keys.Select(AgentObject)));
            }
        });
        group.MapGet("/agents/{name}", (string name) => AgentObject(name) is { } agent ? Results.Json(agent) : NotFound(name));
        group.MapPost("/agents/{name}/versions", async (string name, HttpContext context) =>
        {
            var body = await ReadAsync(context).ConfigureAwait(false);
            return Results.Json(AddVersion(name, body["definition"]!.AsObject(), body["metadata"]?.AsObject() ?? [], body["description"]?.GetValue<string>()));
        });
        group.MapGet("/agents/{name}/versions", (string name) =>
        {
            lock (_gate)
            {
                return _agents.TryGetValue(name, out var versions) ? Results.Json(List(versions)) : NotFound(name);
            }
        });
        group.MapGet("/agents/{name}/versions/{version}", (string name, string version) =>
            Find(name, version) is { } found ? Results.Json(found) : NotFound($"{name} version {version}"));
        group.MapDelete("/agents/{name}/versions/{version}", (string name, string version) =>
        {
            lock (_gate)
            {
                if (!_agents.TryGetValue(name, out var versions) || versions.RemoveAll(v => v["version"]!.GetValue<string>() == version) == 0)
                {
                    return NotFound($"{name} version {version}");
                }

                if (versions.Count == 0)
                {
                    _agents.Remove(name);
                }

                _deleted.Add($"{name}:{version}");
            }

            return Results.Json(new JsonObject { ["object"] = "agent.version.deleted", ["name"] = name, ["version"] = version, ["deleted"] = true });
        });
        group.MapPost("/openai/v1/conversations", async (HttpContext context) =>
        {
            var body = await ReadAsync(context).ConfigureAwait(false);
            var id = "conv_" + Interlocked.Increment(ref _conversations).ToString("D6", CultureInfo.InvariantCulture);
            return Results.Json(new JsonObject { ["id"] = id, ["object"] = "conversation", ["created_at"] = _clock, ["metadata"] = body["metadata"]?.DeepClone() ?? new JsonObject() });
        });
        group.MapPost("/openai/v1/responses", async (HttpContext context) =>
        {
            var request = await models.RecordAsync(context).ConfigureAwait(false);
            if (ThrottleRetryAfterSeconds is { } wait)
            {
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = wait.ToString(CultureInfo.InvariantCulture);
                await context.Response.WriteAsJsonAsync(Error("too_many_requests", "Rate limit is exceeded."), context.RequestAborted).ConfigureAwait(false);
                return;
            }

            if (request.Json["agent_reference"] is { } reference &&
                Find(reference["name"]!.GetValue<string>(), reference["version"]!.GetValue<string>()) is null)
            {
                context.Response.StatusCode = 404;
                await context.Response.WriteAsJsonAsync(Error("not_found", $"Agent {reference["name"]} version {reference["version"]} not found."), context.RequestAborted).ConfigureAwait(false);
                return;
            }

            await models.WriteResponsesAsync(context, request).ConfigureAwait(false);
        });
    }

    private JsonObject AddVersion(string name, JsonObject definition, JsonObject metadata, string? description)
    {
        lock (_gate)
        {
            var versions = _agents.TryGetValue(name, out var existing) ? existing : _agents[name] = [];
            // Version numbers are never reused, even after a delete.
            var number = _lastVersion[name] = _lastVersion.GetValueOrDefault(name) + 1;
            var version = new JsonObject
            {
                ["object"] = "agent.version", ["id"] = $"{name}:{number}", ["name"] = name, ["version"] = number.ToString(CultureInfo.InvariantCulture),
                ["description"] = description, ["created_at"] = _clock++, ["metadata"] = metadata.DeepClone(), ["definition"] = definition.DeepClone(),
            };
            versions.Add(version);
            VersionsCreated++;
            return (JsonObject)version.DeepClone();
        }
    }

    private JsonObject? Find(string name, string version)
    {
        lock (_gate)
        {
            return _agents.TryGetValue(name, out var versions) ? versions.FirstOrDefault(v => v["version"]!.GetValue<string>() == version)?.DeepClone().AsObject() : null;
        }
    }

    private JsonObject? AgentObject(string name)
    {
        lock (_gate)
        {
            return _agents.TryGetValue(name, out var versions) && versions.Count > 0
                ? new JsonObject { ["object"] = "agent", ["id"] = name, ["name"] = name, ["versions"] = new JsonObject { ["latest"] = versions[^1].DeepClone() } }
                : null;
        }
    }

    private static JsonObject List(IEnumerable<JsonObject?> items)
    {
        var data = new JsonArray([.. items.Where(i => i is not null).Select(i => (JsonNode)i!.DeepClone())]);
        return new JsonObject
        {
            ["object"] = "list", ["data"] = data, ["has_more"] = false,
            ["first_id"] = data.FirstOrDefault()?["id"]?.DeepClone(), ["last_id"] = data.LastOrDefault()?["id"]?.DeepClone(),
        };
    }

    private static IResult NotFound(string what) => Results.Json(Error("not_found", $"{what} not found."), statusCode: 404);

    private static JsonObject Error(string code, string message) => new() { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } };

    private static async Task<JsonObject> ReadAsync(HttpContext context) =>
        (await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false))!.AsObject();

    public ValueTask DisposeAsync() => Models.DisposeAsync();
}
