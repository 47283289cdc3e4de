using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Steward.Sessions;
using Steward.Users;

namespace Steward.Cli.Commands;

/// <summary><c>steward users add|list|set-role|remove|reset-password</c>: the web app's local accounts.</summary>
internal static class UsersCommand
{
    /// <summary>Where a password is read from when standard input is not a terminal (scripts): its first line.</summary>
    private const string PasswordHelp =
        "The password is asked for without echo; from a script, pipe it on standard input (one line). Never on the command line, where other users of the machine can read it.";

    public static Command Create() => new("users", "Manage the web app's local accounts (Steward:Auth:LocalAccounts=true): their roles and passwords.")
    {
        Add(), List(), SetRole(), Remove(), ResetPassword(),
    };

    private static Command Add()
    {
        var name = new Argument<string>("name") { Description = "The user's sign-in name, e.g. alice." };
        var role = new Option<string>("--role") { Description = "viewer (read), operator (chat, evals, export) or admin (keys, presets, budgets, delete).", DefaultValueFactory = _ => StewardRoles.Viewer };
        var command = new Command("add", "Add a user. " + PasswordHelp) { name, role };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var parsedRole = StewardRoles.Parse(parse.GetValue(role), "--role");
            var password = await ReadNewPasswordAsync(cancellationToken).ConfigureAwait(false);
            var user = await services.Get<UserStore>().CreateAsync(parse.GetValue(name)!, password, parsedRole, cancellationToken).ConfigureAwait(false);
            CliErrors.Stderr.MarkupLine($"[green]User {Markup.Escape(user.Name)} added as {user.Role}.[/]");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command List()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("list", "List the users and their roles (never a password).") { json };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var users = await services.Get<UserStore>().ListAsync(cancellationToken).ConfigureAwait(false);
            var now = TimeProvider.System.GetUtcNow();
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(users.Select(u => new { u.Id, u.Name, u.Role, u.CreatedAt, LockedUntil = u.LockedUntil > now ? u.LockedUntil : null }), StoredSessions.ExportJsonOptions));
                return ExitCodes.Success;
            }

            var table = new Table().Border(TableBorder.Rounded);
            table.AddColumns("name", "role", "created", "state");
            foreach (var u in users)
            {
                table.AddRow(Markup.Escape(u.Name), u.Role, u.CreatedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
                    u.LockedUntil is { } l && l > now ? "locked until " + l.ToString("HH:mm", CultureInfo.InvariantCulture) + " UTC" : "active");
            }

            AnsiConsole.Write(table);
            if (users.Count == 0)
            {
                AnsiConsole.MarkupLine("[grey]No users. Add one with 'steward users add NAME --role admin', or open the web app from this machine.[/]");
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command SetRole()
    {
        var name = new Argument<string>("name") { Description = "The user's name." };
        var role = new Argument<string>("role") { Description = "viewer, operator or admin." };
        var command = new Command("set-role", "Give a user another role; they sign in again. The last admin cannot be demoted.") { name, role };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var user = await services.Get<UserStore>().SetRoleAsync(parse.GetValue(name)!, StewardRoles.Parse(parse.GetValue(role), "ROLE"), cancellationToken).ConfigureAwait(false);
            CliErrors.Stderr.MarkupLine($"[green]User {Markup.Escape(user.Name)} is now {user.Role}.[/]");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command Remove()
    {
        var name = new Argument<string>("name") { Description = "The user's name." };
        var command = new Command("remove", "Remove a user; their open pages stop working. The last admin cannot be removed.") { name };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var user = await services.Get<UserStore>().RemoveAsync(parse.GetValue(name)!, cancellationToken).ConfigureAwait(false);
            CliErrors.Stderr.MarkupLine($"[green]User {Markup.Escape(user.Name)} removed.[/]");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command ResetPassword()
    {
        var name = new Argument<string>("name") { Description = "The user's name." };
        var command = new Command("reset-password", "Set a user's password and lift a lockout; they sign in again. " + PasswordHelp) { name };
        command.SetAction((parse, cancellationToken) => CliCommand.RunAsync(async services =>
        {
            var password = await ReadNewPasswordAsync(cancellationToken).ConfigureAwait(false);
            var user = await services.Get<UserStore>().ResetPasswordAsync(parse.GetValue(name)!, password, cancellationToken).ConfigureAwait(false);
            CliErrors.Stderr.MarkupLine($"[green]Password of {Markup.Escape(user.Name)} set.[/]");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    /// <summary>A new password: asked twice without echo on a terminal, else the first line of standard input.</summary>
    private static async Task<string> ReadNewPasswordAsync(CancellationToken cancellationToken)
    {
        string password;
        if (Console.IsInputRedirected)
        {
            password = (await Console.In.ReadLineAsync(cancellationToken).ConfigureAwait(false) ?? "").TrimEnd('\r');
        }
        else
        {
            password = CliErrors.Stderr.Prompt(new TextPrompt<string>("Password:").Secret());
            var again = CliErrors.Stderr.Prompt(new TextPrompt<string>("Again:").Secret());
            if (!string.Equals(password, again, StringComparison.Ordinal))
            {
                throw new ArgumentException("password: the two entries differ; run the command again.");
            }
        }

        var problems = UserStore.ValidatePassword(password).ToList();
        return problems.Count == 0 ? password : throw new ArgumentException(string.Join("; ", problems) + " (piped on standard input or typed at the prompt).");
    }
}
