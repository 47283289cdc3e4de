using System.CommandLine;
using Steward.Cli;
using Steward.Cli.Parsing;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary>
/// Every typed value of every command, fed values that do not parse or are out of range: one line naming the option
/// and what it accepts, exit code 2, never an exception.
/// </summary>
public sealed class CliParseErrorTests : CliProcessTest
{
    private static readonly string[] BadWholeNumbers = ["abc", "1e3", "1.5", "99999999999999999999", "-99999999999999999999", "0x10", "NaN"];
    private static readonly string[] BadNumbers = ["abc", "NaN", "Infinity", "-Infinity", "1e400", "1,5", "79228162514264337593543950336"];

    [Fact]
    public void EveryNumericOption_BadValues_OneLineNamingTheOptionAndExitCode2()
    {
        var options = NumericOptions().ToList();
        // The walk must reach the options the issue names, or it proves nothing.
        foreach (var known in new[] { "ask --max-tokens", "chat --max-tokens", "eval --concurrency", "eval --fail-under", "eval --tolerance", "models run --temperature", "models run --seed", "budgets set --usd", "budgets set --tokens", "sessions list --limit" })
        {
            Assert.Contains(options, o => $"{string.Join(' ', o.Path)} {o.Option.Name}" == known);
        }

        var checkedValues = 0;
        foreach (var (path, option) in options)
        {
            var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
            var bad = type == typeof(int) || type == typeof(long) ? BadWholeNumbers : BadNumbers;
            foreach (var value in bad)
            {
                var args = path.Concat(RequiredValues(path)).Append(option.Name).Append(value).ToArray();
                var (code, lines) = Parse(args);

                var context = $"steward {string.Join(' ', args)}";
                Assert.True(code == 2, $"{context} exited {code}");
                var line = Assert.Single(lines);
                Assert.StartsWith("error: " + option.Name + ":", line, StringComparison.Ordinal);
                Assert.Contains("is not", line, StringComparison.Ordinal);
                checkedValues++;
            }
        }

        Assert.True(checkedValues > 50, $"only {checkedValues} values checked");
    }

    [Theory]
    [InlineData("--max-tokens", "0", "ask", "--agent", "a", "q")]
    [InlineData("--max-tokens", "2147483648", "ask", "--agent", "a", "q")]
    [InlineData("--concurrency", "65", "eval", "d.jsonl", "--agent", "a")]
    [InlineData("--fail-under", "100.5", "eval", "d.jsonl", "--agent", "a")]
    [InlineData("--tolerance", "-1", "eval", "d.jsonl", "--agent", "a")]
    [InlineData("--temperature", "2.5", "models", "run", "m", "p")]
    [InlineData("--usd", "79228162514264337593543950335", "budgets", "set", "b", "--scope", "global")]
    [InlineData("--tokens", "0", "budgets", "set", "b", "--scope", "global")]
    [InlineData("--limit", "0", "sessions", "list")]
    public void OutOfRange_OneLineWithTheRange(string option, string value, params string[] command)
    {
        var (code, lines) = Parse([.. command, option, value]);

        Assert.Equal(2, code);
        var line = Assert.Single(lines);
        Assert.Matches($"^error: {option}: '{System.Text.RegularExpressions.Regex.Escape(value)}' is not .* from .* to .*", line);
    }

    [Theory]
    [InlineData("--scope", "glob", "one of request, session, agent, global", "budgets", "set", "b", "--usd", "1")]
    [InlineData("--from", "2026-13-01", "yyyy-MM-dd", "costs")]
    [InlineData("<id>", "not-a-guid", "GUID", "sessions", "show")]
    public void OtherTypedValues_OneLineSayingWhatIsAccepted(string name, string value, string expected, params string[] command)
    {
        var args = name.StartsWith('<') ? [.. command, value] : command.Append(name).Append(value).ToArray();
        var (code, lines) = Parse(args);

        Assert.Equal(2, code);
        var line = Assert.Single(lines);
        Assert.StartsWith($"error: {name}: '{value}' is not", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ask", "--agent", "a", "q")]
    [InlineData("chat", "--agent", "a")]
    [InlineData("eval", "d.jsonl", "--agent", "a")]
    public void ModelWithMarkup_OneLineExitCode2(params string[] command)
    {
        var (code, lines) = Parse([.. command, "--model", "<img src=x onerror=alert(1)>"]);

        Assert.Equal(2, code);
        Assert.StartsWith("error: --model: '<img src=x onerror=alert(1)>' contains '<'", Assert.Single(lines), StringComparison.Ordinal);
    }

    /// <summary>The reproductions, through the real command: exit 2 and one line, where they crashed with exit 134.</summary>
    [Theory]
    [InlineData("--max-tokens", "ask", "--agent", "assistant", "--max-tokens", "abc", "Hi")]
    [InlineData("--max-tokens", "ask", "--agent", "assistant", "--max-tokens", "1e3", "Hi")]
    [InlineData("--max-tokens", "ask", "--agent", "assistant", "--max-tokens", "99999999999", "Hi")]
    [InlineData("--concurrency", "eval", "missing.jsonl", "--agent", "assistant", "--concurrency", "abc")]
    [InlineData("--fail-under", "eval", "missing.jsonl", "--agent", "assistant", "--fail-under", "abc")]
    [InlineData("--tolerance", "eval", "missing.jsonl", "--agent", "assistant", "--tolerance", "abc")]
    [InlineData("--temperature", "models", "run", "missing", "Hi", "--temperature", "NaN")]
    [InlineData("--usd", "budgets", "set", "b", "--scope", "global", "--usd", "79228162514264337593543950335")]
    public async Task RealCommand_BadValue_ExitCode2AndOneLine(string option, params string[] args)
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(Env, args);

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: {option}: ", line, StringComparison.Ordinal);
    }

    private static (int? Code, string[] Lines) Parse(string[] args)
    {
        var parse = CliApp.CreateRootCommand().Parse(args);
        using var error = new StringWriter();
        var code = CliApp.ReportParseErrors(parse, error);
        return (code, error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static IEnumerable<(string[] Path, Option Option)> NumericOptions()
    {
        var numeric = new[] { typeof(int), typeof(long), typeof(double), typeof(float), typeof(decimal) };
        var stack = new Stack<(string[] Path, Command Command)>();
        stack.Push(([], CliApp.CreateRootCommand()));
        while (stack.Count > 0)
        {
            var (path, command) = stack.Pop();
            foreach (var option in command.Options)
            {
                if (numeric.Contains(Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType))
                {
                    Assert.True(CliValues.IsHandled(option.ValueType));
                    yield return (path, option);
                }
            }

            foreach (var sub in command.Subcommands)
            {
                stack.Push(([.. path, sub.Name], sub));
            }
        }
    }

    /// <summary>Valid values for a command's arguments and required options, so the bad value is the only error.</summary>
    private static IEnumerable<string> RequiredValues(string[] path)
    {
        Command command = CliApp.CreateRootCommand();
        foreach (var name in path)
        {
            command = command.Subcommands.Single(c => c.Name == name);
        }

        foreach (var argument in command.Arguments.Where(a => a.Arity.MinimumNumberOfValues > 0))
        {
            yield return Valid(argument.ValueType);
        }

        foreach (var option in command.Options.Where(o => o.Required))
        {
            yield return option.Name;
            yield return Valid(option.ValueType);
        }
    }

    private static string Valid(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t == typeof(Guid) ? Guid.NewGuid().ToString()
            : t.IsEnum ? Enum.GetNames(t)[0]
            : t == typeof(int) || t == typeof(long) ? "1"
            : "x";
    }
}
