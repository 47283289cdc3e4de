using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Steward.Budgets;
using Steward.Cli.Parsing;
using Steward.Keys;
using Steward.Sessions;

namespace Steward.Cli.Commands;

/// <summary><c>steward keys create|list|show|revoke</c>: the gateway's virtual keys.</summary>
internal static class KeysCommand
{
    public static Command Create() => new("keys", "Manage the gateway's virtual keys (sk-stw-…): what each may call, its budget and rate limits.")
    {
        CreateKey(), List(), Show(), Revoke(),
    };

    private static Command CreateKey()
    {
        var name = new Argument<string>("name") { Description = "A name for the key, e.g. billing-service." };
        var models = new Option<string[]>("--models") { Description = "Models the key may call: preset names or PROVIDER/MODEL, a trailing * matching any rest (default: all).", AllowMultipleArgumentsPerToken = true };
        var usd = new Option<decimal?>("--budget-usd") { Description = "Most USD the key may spend per --period." }.Within(0m, BudgetPolicy.MaxUsdLimit);
        var tokens = new Option<long?>("--budget-tokens") { Description = "Most tokens (input + output) the key may use per --period." }.Within(1, BudgetPolicy.MaxTokensLimit);
        var period = new Option<BudgetPeriod>("--period") { Description = "none, hourly, daily, weekly or monthly.", DefaultValueFactory = _ => BudgetPeriod.None };
        var rpm = new Option<int?>("--rpm") { Description = "Most requests per minute." }.Within(1, 1_000_000);
        var tpm = new Option<int?>("--tpm") { Description = "Most tokens per minute." }.Within(1, int.MaxValue);
        var expires = new Option<string?>("--expires") { Description = "When the key stops working: a date (2027-01-31), a time (2027-01-31T18:00Z) or a duration from now (30d, 12h)." };
        var role = new Option<string?>("--role") { Description = "Also let the key call Steward's own API (/api) as viewer, operator or admin. Without it the key works on the gateway (/v1) only." };
        var json = new Option<bool>("--json") { Description = "Print JSON (the key included)." };
        var command = new Command("create", "Make a key. Its secret is printed once, here, and never again: Steward keeps only its hash.")
        {
            name, models, usd, tokens, period, rpm, tpm, expires, role, json,
        };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var spec = new ApiKeySpec
            {
                Name = parse.GetValue(name)!,
                Models = [.. (parse.GetValue(models) ?? []).SelectMany(m => m.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))],
                BudgetUsd = parse.GetValue(usd),
                BudgetTokens = parse.GetValue(tokens),
                BudgetPeriod = parse.GetValue(period),
                RequestsPerMinute = parse.GetValue(rpm),
                TokensPerMinute = parse.GetValue(tpm),
                ExpiresAt = parse.GetValue(expires) is { } e ? ParseExpiry(e, TimeProvider.System.GetUtcNow()) : null,
                Role = parse.GetValue(role) is { } r ? Steward.Users.StewardRoles.Parse(r, "--role") : null,
            };
            var (key, secret) = await services.Get<ApiKeys>().CreateAsync(spec, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { key.Id, key.Name, Key = secret, key.Models, key.Role, Limits = key.DescribeLimits(), key.ExpiresAt }, Rendering.CliJson.Output));
                return ExitCodes.Success;
            }

            // The secret alone on standard output, so `KEY=$(steward keys create x)` works; the rest is for people.
            Console.WriteLine(secret);
            CliErrors.Stderr.MarkupLine($"[green]Key {Markup.Escape(key.Name)} ({key.Id}) created: {Markup.Escape(key.DescribeLimits())}; {(key.Role is null ? "gateway (/v1) only" : "/v1 and /api as " + key.Role)}.[/]");
            CliErrors.Stderr.MarkupLine("[yellow]Copy the key now: it is not stored and cannot be shown again.[/]");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    /// <summary>A date, a date and time, or a duration from now (<c>30d</c>, <c>12h</c>, <c>90m</c>).</summary>
    internal static DateTimeOffset ParseExpiry(string text, DateTimeOffset now)
    {
        var value = text.Trim();
        if (value.Length > 1 && char.IsAsciiLetter(value[^1]) && long.TryParse(value[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var amount) && amount is > 0 and < 100_000)
        {
            switch (char.ToLowerInvariant(value[^1]))
            {
                case 'd': return now.AddDays(amount);
                case 'h': return now.AddHours(amount);
                case 'm': return now.AddMinutes(amount);
            }
        }

        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            ? at
            : throw new ArgumentException($"--expires: '{text}' is neither a date (2027-01-31), a time (2027-01-31T18:00Z) nor a duration (30d, 12h, 90m).");
    }

    private static Command List()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("list", "List the keys (never their secrets), revoked and expired ones included.") { json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var keys = await services.Get<ApiKeys>().ListAsync(cancellationToken).ConfigureAwait(false);
            var now = TimeProvider.System.GetUtcNow();
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(keys.Select(k => Describe(k, now)), Rendering.CliJson.Output));
                return ExitCodes.Success;
            }

            var table = new Table().Border(TableBorder.Rounded);
            table.AddColumns("name", "id", "key", "models", "limits", "api role", "state", "created", "expires");
            foreach (var k in keys)
            {
                table.AddRow(Markup.Escape(k.Name), k.Id, Markup.Escape(k.Prefix + "…"), Markup.Escape(k.Models.Count == 0 ? "any" : string.Join(", ", k.Models)),
                    Markup.Escape(k.DescribeLimits()), k.Role ?? "-", k.State(now), k.CreatedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
                    k.ExpiresAt?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "-");
            }

            AnsiConsole.Write(table);
            if (keys.Count == 0)
            {
                AnsiConsole.MarkupLine("[grey]No keys. Make one with 'steward keys create NAME'.[/]");
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Show()
    {
        var id = new Argument<string>("key") { Description = "The key's name or id." };
        var command = new Command("show", "Show one key (without its secret) as JSON.") { id };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var key = await services.Get<ApiKeys>().GetAsync(parse.GetValue(id)!, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(JsonSerializer.Serialize(Describe(key, TimeProvider.System.GetUtcNow()), Rendering.CliJson.Output));
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Revoke()
    {
        var id = new Argument<string>("key") { Description = "The key's name or id." };
        var command = new Command("revoke", "Revoke a key: requests with it are refused from now on (within a second in a running web app).") { id };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var key = await services.Get<ApiKeys>().RevokeAsync(parse.GetValue(id)!, cancellationToken).ConfigureAwait(false);
            CliErrors.Stderr.MarkupLine($"[green]Key {Markup.Escape(key.Name)} ({key.Id}) revoked.[/]");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static object Describe(ApiKeyInfo k, DateTimeOffset now) => new
    {
        k.Id, k.Name, k.Prefix, k.Models, k.Role, k.BudgetUsd, k.BudgetTokens, k.BudgetPeriod, k.RequestsPerMinute, k.TokensPerMinute,
        State = k.State(now), k.CreatedAt, k.ExpiresAt, k.RevokedAt, Limits = k.DescribeLimits(),
    };
}
