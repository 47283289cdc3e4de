using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace Steward.LocalModels.Tests.TestSupport;

/// <summary>
/// Renders templates with the reference implementation, npm <c>@huggingface/jinja</c> (how Hugging Face renders chat
/// templates), by running node on tests/jinja-reference/render.mjs. Install it with
/// <c>npm ci --prefix tests/jinja-reference</c> (.ci/run does). Missing node or package: the test is skipped on a
/// developer machine and fails in CI (CI=true).
/// </summary>
public static class JinjaReference
{
    private static readonly Lazy<string?> Folder = new(Locate);

    /// <summary>One result: the rendered text, or the reference's error message.</summary>
    public sealed record Result(string? Output, string? Error);

    /// <summary>Renders each (template, context) pair in one node process; results in the same order.</summary>
    public static IReadOnlyList<Result> Render(IReadOnlyList<(string Template, JsonNode Context)> cases)
    {
        ArgumentNullException.ThrowIfNull(cases);
        var folder = Require();
        var input = new JsonArray([.. cases.Select(c => (JsonNode)new JsonObject { ["template"] = c.Template, ["context"] = c.Context.DeepClone() })]);
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
            StandardOutputEncoding = System.Text.Encoding.UTF8,
        };
        start.ArgumentList.Add("render.mjs");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(input.ToJsonString());
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("node render.mjs did not finish within 60 s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"node render.mjs exited with {process.ExitCode}: {stderr.Result}");
        }

        var results = JsonNode.Parse(stdout.Result)!.AsArray();
        return [.. results.Select(r => new Result(r!["output"]?.GetValue<string>(), r["error"]?.GetValue<string>()))];
    }

    /// <summary>Renders one template with one context.</summary>
    public static Result Render(string template, JsonNode context) => Render([(template, context)])[0];

    private static string Require()
    {
        string? problem = null;
        if (Folder.Value is not { } folder)
        {
            problem = "tests/jinja-reference was not found.";
        }
        else if (!Directory.Exists(Path.Combine(folder, "node_modules", "@huggingface", "jinja")))
        {
            problem = "@huggingface/jinja is not installed: run `npm ci --prefix tests/jinja-reference`.";
        }
        else if (!NodeRuns())
        {
            problem = "node is not installed (the reference renderer runs on node).";
        }

        if (problem is null)
        {
            return Folder.Value!;
        }

        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(problem);
        }

        Assert.Skip(problem);
        return null!; // unreachable: Assert.Skip throws
    }

    private static bool NodeRuns()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, UseShellExecute = false });
            return process is not null && process.WaitForExit(TimeSpan.FromSeconds(30)) && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static string? Locate()
    {
        foreach (var start in new[] { SourceDirectory(), AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "jinja-reference");
                if (File.Exists(Path.Combine(candidate, "render.mjs")))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    private static string SourceDirectory([CallerFilePath] string path = "") =>
        Path.GetDirectoryName(path) is { Length: > 0 } dir ? dir : Environment.CurrentDirectory;

    /// <summary>Parses a JSON context written in a test.</summary>
    public static JsonNode Context(string json) => JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true })!;
}
