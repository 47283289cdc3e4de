using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Web.Tests.SignIn;

/// <summary>
/// An OpenID Connect issuer speaking the real protocol on a loopback port: discovery, JWKS, an authorize endpoint that
/// signs in <see cref="NextUser"/> at once and redirects back with a code, and a token endpoint that checks the client
/// secret and the PKCE verifier and returns an RS256-signed id token (issuer, audience, nonce, expiry, the user's roles).
/// </summary>
public sealed class FakeOidcIssuer : IAsyncDisposable
{
    public const string ClientId = "steward-test-client";
    public const string ClientSecret = "oidc-client-secret-7f3a9c";

    private readonly WebApplication _app;
    private readonly RSA _key = RSA.Create(2048);
    private readonly ConcurrentDictionary<string, (string Nonce, string Challenge, string RedirectUri, FakeOidcUser User)> _codes = new();

    private readonly ConcurrentDictionary<string, string> _issued = new();

    private FakeOidcIssuer(WebApplication app, bool endSession)
    {
        _app = app;
        EndSession = endSession;
    }

    /// <summary>Whether discovery advertises an <c>end_session_endpoint</c> (RP-initiated logout).</summary>
    public bool EndSession { get; }

    /// <summary>Logout requests that came with an id_token_hint this issuer issued: (subject, post_logout_redirect_uri).</summary>
    public ConcurrentQueue<(string Subject, string PostLogoutRedirectUri)> SignOuts { get; } = new();

    /// <summary>Who the next authorization signs in.</summary>
    public FakeOidcUser NextUser { get; set; } = new("alice-sub", "alice@example.com", ["Steward.Admins"]);

    public string Authority { get; private set; } = "";

    /// <summary>Token requests that presented a wrong client secret or PKCE verifier.</summary>
    public int RejectedTokenRequests { get; private set; }

    public static async Task<FakeOidcIssuer> StartAsync(bool endSession = true)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var issuer = new FakeOidcIssuer(app, endSession);
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(issuer.Discovery()));
        app.MapGet("/logout", (HttpRequest request) => issuer.Logout(request));
        app.MapGet("/jwks", () =>
        {
            var p = issuer._key.ExportParameters(includePrivateParameters: false);
            return Results.Json(new JsonObject
            {
                ["keys"] = new JsonArray(new JsonObject
                {
                    ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = "test-key",
                    ["n"] = Base64Url(p.Modulus!), ["e"] = Base64Url(p.Exponent!),
                }),
            });
        });
        app.MapGet("/authorize", (HttpRequest request) => issuer.Authorize(request));
        app.MapPost("/token", async (HttpRequest request) => await issuer.TokenAsync(request));
        await app.StartAsync();
        issuer.Authority = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return issuer;
    }

    private JsonObject Discovery()
    {
        var json = new JsonObject
        {
            ["issuer"] = Authority,
            ["authorization_endpoint"] = Authority + "/authorize",
            ["token_endpoint"] = Authority + "/token",
            ["jwks_uri"] = Authority + "/jwks",
            ["response_types_supported"] = new JsonArray("code"),
            ["subject_types_supported"] = new JsonArray("public"),
            ["id_token_signing_alg_values_supported"] = new JsonArray("RS256"),
            ["code_challenge_methods_supported"] = new JsonArray("S256"),
            ["token_endpoint_auth_methods_supported"] = new JsonArray("client_secret_post"),
        };
        if (EndSession)
        {
            json["end_session_endpoint"] = Authority + "/logout";
        }

        return json;
    }

    private IResult Logout(HttpRequest request)
    {
        var q = request.Query;
        if (!_issued.TryGetValue(q["id_token_hint"].ToString(), out var subject) || string.IsNullOrEmpty(q["post_logout_redirect_uri"]))
        {
            return Results.BadRequest("unexpected logout request");
        }

        SignOuts.Enqueue((subject, q["post_logout_redirect_uri"].ToString()));
        return Results.Redirect($"{q["post_logout_redirect_uri"]}?state={Uri.EscapeDataString(q["state"].ToString())}");
    }

    private IResult Authorize(HttpRequest request)
    {
        var q = request.Query;
        if (q["client_id"] != ClientId || q["response_type"] != "code" || q["code_challenge_method"] != "S256")
        {
            return Results.BadRequest("unexpected authorize request");
        }

        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _codes[code] = (q["nonce"].ToString(), q["code_challenge"].ToString(), q["redirect_uri"].ToString(), NextUser);
        var separator = q["redirect_uri"].ToString().Contains('?', StringComparison.Ordinal) ? "&" : "?";
        return Results.Redirect($"{q["redirect_uri"]}{separator}code={code}&state={Uri.EscapeDataString(q["state"].ToString())}");
    }

    private async Task<IResult> TokenAsync(HttpRequest request)
    {
        var form = await request.ReadFormAsync();
        if (form["grant_type"] != "authorization_code" || form["client_id"] != ClientId || form["client_secret"] != ClientSecret
            || !_codes.TryRemove(form["code"].ToString(), out var grant) || form["redirect_uri"] != grant.RedirectUri
            || Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString()))) != grant.Challenge)
        {
            RejectedTokenRequests++;
            return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new JsonObject
        {
            ["iss"] = Authority, ["sub"] = grant.User.Subject, ["aud"] = ClientId, ["iat"] = now, ["nbf"] = now, ["exp"] = now + 300,
            ["nonce"] = grant.Nonce, ["preferred_username"] = grant.User.Name, ["name"] = grant.User.Name,
            ["roles"] = new JsonArray([.. grant.User.Roles.Select(r => (JsonNode)JsonValue.Create(r)!)]),
        };
        var idToken = Sign(claims);
        _issued[idToken] = grant.User.Subject;
        return Results.Json(new { access_token = "opaque-" + Guid.NewGuid(), token_type = "Bearer", expires_in = 300, id_token = idToken });
    }

    private string Sign(JsonObject payload)
    {
        var header = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new { alg = "RS256", kid = "test-key", typ = "JWT" }));
        var body = Base64Url(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(header + "." + body), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return header + "." + body + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _key.Dispose();
    }
}

/// <summary>A user of the fake issuer: subject, name and the values of its <c>roles</c> claim.</summary>
public sealed record FakeOidcUser(string Subject, string Name, IReadOnlyList<string> Roles);
