using Steward.Web.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddStewardWeb();

var app = builder.Build();
app.MapStewardWeb();
return await app.RunStewardAsync();
