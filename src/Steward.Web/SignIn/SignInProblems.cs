using Steward.Web.Hosting;

namespace Steward.Web.SignIn;

/// <summary>The <c>ProblemDetails</c> answers of <c>/api</c> to callers who are not signed in or lack the role.</summary>
internal static class SignInProblems
{
    public static Task WriteAsync(HttpContext context, int status, string title, string detail)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return TypedResults.Problem(detail: detail, statusCode: status, title: title).ExecuteAsync(context);
    }

    /// <summary>Names the role the endpoint needs and the one the caller has.</summary>
    public static string ForbiddenDetail(HttpContext context)
    {
        var needed = context.GetEndpoint()?.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>()
            .Select(a => a.Policy).OfType<string>().Select(StewardPolicies.RoleOf).OfType<string>().MaxBy(Steward.Users.StewardRoles.Rank);
        var has = StewardClaims.Role(context.User) ?? "none";
        return needed is null
            ? $"Your role ({has}) may not do this."
            : $"This needs the {needed} role; yours is {has}. An admin can change it ('steward users set-role', or a key made with --role {needed}).";
    }

    public static bool IsApi(HttpRequest request) => request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase);
}
