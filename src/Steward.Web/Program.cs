using Steward.Web.Hosting;

// Before anything opens a socket: the runtime reads this switch once (see SocketThreads).
SocketThreads.Choose();
var builder = WebApplication.CreateBuilder(args);
// Serves packaged assets (MudBlazor's CSS and JS) from a plain build as well as a publish, in every environment.
builder.WebHost.UseStaticWebAssets();
builder.AddStewardWeb();

var app = builder.Build();
if (await app.CheckStewardStartAsync() is { } failed)
{
    return failed;
}

app.MapStewardWeb();
return await app.RunStewardAsync();
