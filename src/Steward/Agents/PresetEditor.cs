using System.Text;

namespace Steward.Agents;

/// <summary>
/// Creates, changes and deletes preset files for people editing them in the app. A file is checked by the same parser
/// the catalog reads files with, and is written only when valid, through a temporary file renamed over the old one, so
/// a reader (this process, another instance on the same folder, the CLI) sees the old file or the new one, never half.
/// The catalog notices the new file on its next lookup, so the next run uses it without a restart.
/// </summary>
public sealed class PresetEditor
{
    private readonly PresetCatalog _catalog;

    public PresetEditor(PresetCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        _catalog = catalog;
    }

    /// <summary>The folder the files are written to.</summary>
    public string DirectoryPath => _catalog.DirectoryPath;

    /// <summary>A preset file's text as it is on disk.</summary>
    /// <exception cref="PresetNotFoundException">No such preset file.</exception>
    public string Read(string name)
    {
        var path = PathOf(name) ?? throw new PresetNotFoundException(name, Names());
        try
        {
            return File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            throw new PresetNotFoundException(name, Names());
        }
    }

    /// <summary>Every problem the file would have, as the catalog would report it; empty when it is valid.</summary>
    public IReadOnlyList<PresetEditProblem> Validate(string name, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!PresetNames.IsValid(name ?? ""))
        {
            return [new PresetEditProblem(null,
                $"The name '{name}' is not a valid preset name: use 1 to {PresetNames.MaxLength} lower-case letters, digits, '_' or '-' (it is the file name).")];
        }

        try
        {
            PresetFileParser.Parse(Path.Combine(DirectoryPath, name + ".yaml"), text);
            return [];
        }
        catch (PresetLoadException ex) when (ex.Problems.Count > 0)
        {
            return [.. ex.Problems.Select(p => new PresetEditProblem(p.Line, p.Problem))];
        }
        catch (PresetLoadException ex)
        {
            // The parser names the file in its message for the log and the CLI; next to the editor the line is enough.
            var prefix = ex.FilePath is null ? null : ex.Line is { } line ? $"{ex.FilePath}, line {line}: " : ex.FilePath + ": ";
            var message = prefix is not null && ex.Message.StartsWith(prefix, StringComparison.Ordinal) ? ex.Message[prefix.Length..] : ex.Message;
            return [new PresetEditProblem(ex.Line, message)];
        }
    }

    /// <summary>
    /// Writes the preset when it is valid: a new one when <paramref name="create"/>, else over the existing file.
    /// Returns the problems instead, writing nothing, when the text is invalid or the file cannot be written.
    /// </summary>
    /// <param name="name">The preset's name, which is its file's name.</param>
    /// <param name="text">The preset's YAML.</param>
    /// <param name="create">A new preset (refused when the name is taken), else a change to an existing one.</param>
    /// <param name="openedText">
    /// The file's text when the person began editing (<see cref="Read"/>): when given and the file has changed since (another
    /// admin, another instance, a deploy), nothing is written, so no one's change is lost without being seen.
    /// </param>
    public IReadOnlyList<PresetEditProblem> Save(string name, string text, bool create, string? openedText = null)
    {
        var problems = Validate(name, text);
        if (problems.Count > 0)
        {
            return problems;
        }

        var path = Path.Combine(DirectoryPath, name + ".yaml");
        if (!Directory.Exists(DirectoryPath))
        {
            return [new PresetEditProblem(null, $"The presets folder '{DirectoryPath}' does not exist. Create it, or set Steward:Agents:Directory.")];
        }

        if (create && File.Exists(path))
        {
            return [new PresetEditProblem(null, $"A preset named '{name}' exists already. Choose another name, or edit that one.")];
        }

        if (!create && !File.Exists(path))
        {
            return [new PresetEditProblem(null, $"The preset '{name}' was deleted meanwhile. Create it again as a new preset to keep this text.")];
        }

        if (!create && openedText is not null && !string.Equals(ReadOrNull(path), openedText, StringComparison.Ordinal))
        {
            return [new PresetEditProblem(null,
                $"The preset '{name}' was changed by someone else since you opened it; nothing was saved. Copy your text, open the preset again to see the current version, and apply your change to it.")];
        }

        // Not *.yaml: the catalog lists *.yaml, and must never see the temporary file as a preset.
        var temporary = Path.Combine(DirectoryPath, $".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                var bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text);
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: !create);
            return [];
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            TryDelete(temporary);
            return [new PresetEditProblem(null, WriteProblem(ex))];
        }
    }

    /// <summary>Deletes a preset's file; the sessions it ran keep their history.</summary>
    /// <returns>A problem when the file cannot be deleted; <see langword="null"/> when it is gone.</returns>
    public PresetEditProblem? Delete(string name)
    {
        var path = PathOf(name);
        if (path is null || !File.Exists(path))
        {
            return new PresetEditProblem(null, $"There is no preset named '{name}' (it may have been deleted already).");
        }

        try
        {
            File.Delete(path);
            return null;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return new PresetEditProblem(null, WriteProblem(ex));
        }
    }

    private string WriteProblem(Exception ex) =>
        ex is UnauthorizedAccessException || ex.HResult == 30 /* EROFS */ || ex.Message.Contains("Read-only", StringComparison.OrdinalIgnoreCase)
            ? $"The presets folder '{DirectoryPath}' is read-only for Steward, so presets cannot be changed here. Edit the files where the folder is managed (e.g. in its repository or volume), or make the folder writable for the account Steward runs as."
            : $"The preset file could not be written in '{DirectoryPath}': {ex.Message}";

    private string? PathOf(string name) =>
        PresetNames.IsValid(name ?? "") ? Path.Combine(DirectoryPath, name + ".yaml") : null;

    private IEnumerable<string> Names() =>
        Directory.Exists(DirectoryPath) ? Directory.EnumerateFiles(DirectoryPath, "*.yaml").Select(Path.GetFileNameWithoutExtension).OfType<string>().Order(StringComparer.Ordinal) : [];

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return null;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            // Nothing was renamed into place; a leftover temporary file is not a preset (not *.yaml).
        }
    }
}

/// <summary>One problem with an edited preset.</summary>
/// <param name="Line">1-based line in the text, when the problem has one.</param>
/// <param name="Message">What is wrong and how to fix it.</param>
public sealed record PresetEditProblem(int? Line, string Message);
