using System.Text;
using AngleSharp.Html.Parser;
using UglyToad.PdfPig;

namespace Steward.Tools.Corpus;

/// <summary>A document read for the corpus: where it came from, its title, and its text.</summary>
/// <param name="Source">The full path it was read from (its identity in the corpus).</param>
/// <param name="Url">What citations show: the document's own address (front matter <c>source:</c>/<c>url:</c>, an HTML canonical link) or its path.</param>
/// <param name="Title">Its title.</param>
/// <param name="Kind"><c>markdown</c>, <c>text</c>, <c>html</c> or <c>pdf</c>.</param>
/// <param name="Text">Its text, as plain text.</param>
internal sealed record CorpusDocument(string Source, string Url, string Title, string Kind, string Text);

/// <summary>A file the corpus cannot read, with a reason fit to show.</summary>
public sealed class CorpusException : Exception
{
    public CorpusException(string message) : base(message) { }

    public CorpusException(string message, Exception innerException) : base(message, innerException) { }

    public CorpusException() { }
}

/// <summary>
/// Reads .md, .markdown, .txt, .html, .htm and .pdf files into plain text: markdown through Markdig (front matter's
/// <c>title</c> and <c>source</c> kept), HTML through AngleSharp without scripts, styles or navigation, PDF through PdfPig.
/// </summary>
internal static class CorpusDocumentReader
{
    public static IReadOnlySet<string> Extensions { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".md", ".markdown", ".txt", ".html", ".htm", ".pdf" };

    public static CorpusDocument Read(string path, long maxBytes)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (!info.Exists)
        {
            throw new CorpusException($"File not found: {full}");
        }

        if (info.Length > maxBytes)
        {
            throw new CorpusException($"{full} is {info.Length / 1024 / 1024} MB, more than Steward:Corpus:MaxDocumentBytes allows.");
        }

        var extension = info.Extension.ToLowerInvariant();
        try
        {
            return extension switch
            {
                ".md" or ".markdown" => Markdown(full, File.ReadAllText(full)),
                ".txt" => PlainText(full, File.ReadAllText(full)),
                ".html" or ".htm" => Html(full, File.ReadAllText(full)),
                ".pdf" => Pdf(full),
                _ => throw new CorpusException($"{full}: {extension} files are not supported; the corpus reads {string.Join(", ", Extensions.Order(StringComparer.Ordinal))}."),
            };
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException or FormatException)
        {
            throw new CorpusException($"{full} could not be read: {ex.Message}", ex);
        }
    }

    internal static CorpusDocument Markdown(string source, string text)
    {
        var (front, body) = SplitFrontMatter(text);
        var plain = Markdig.Markdown.ToPlainText(body).Trim();
        var title = front.GetValueOrDefault("title")
            ?? body.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("# ", StringComparison.Ordinal))?[2..].Trim()
            ?? Path.GetFileNameWithoutExtension(source);
        return new CorpusDocument(source, front.GetValueOrDefault("source") ?? front.GetValueOrDefault("url") ?? source, title, "markdown", plain);
    }

    private static CorpusDocument PlainText(string source, string text)
    {
        var first = text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);
        var title = first is { Length: > 0 and <= 120 } ? first : Path.GetFileNameWithoutExtension(source);
        return new CorpusDocument(source, source, title, "text", text.Trim());
    }

    internal static CorpusDocument Html(string source, string html)
    {
        var document = new HtmlParser().ParseDocument(html);
        var canonical = document.QuerySelector("link[rel=canonical]")?.GetAttribute("href");
        var title = document.Title is { Length: > 0 } t ? t.Trim() : document.QuerySelector("h1")?.TextContent.Trim();
        var text = HtmlText.Extract(document);
        var url = canonical is { } c && Uri.TryCreate(c, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri.AbsoluteUri : source;
        return new CorpusDocument(source, url, title is { Length: > 0 } ? title : Path.GetFileNameWithoutExtension(source), "html", text);
    }

    private static CorpusDocument Pdf(string source)
    {
        using var pdf = PdfDocument.Open(source);
        var text = new StringBuilder();
        foreach (var page in pdf.GetPages())
        {
            text.AppendLine(page.Text);
        }

        var title = pdf.Information.Title is { Length: > 0 } t ? t.Trim() : Path.GetFileNameWithoutExtension(source);
        return new CorpusDocument(source, source, title, "pdf", text.ToString().Trim());
    }

    private static (Dictionary<string, string> Front, string Body) SplitFrontMatter(string text)
    {
        var front = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var normalized = text.ReplaceLineEndings("\n");
        if (!normalized.StartsWith("---\n", StringComparison.Ordinal))
        {
            return (front, normalized);
        }

        var end = normalized.IndexOf("\n---", 4, StringComparison.Ordinal);
        if (end < 0)
        {
            return (front, normalized);
        }

        foreach (var line in normalized[4..end].Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                var value = line[(colon + 1)..].Trim().Trim('"', '\'');
                if (value.Length > 0)
                {
                    front[line[..colon].Trim()] = value;
                }
            }
        }

        var bodyStart = normalized.IndexOf('\n', end + 4);
        return (front, bodyStart < 0 ? "" : normalized[(bodyStart + 1)..]);
    }
}

/// <summary>The readable text of an HTML document: scripts, styles, templates, navigation and forms left out.</summary>
internal static class HtmlText
{
    private static readonly string[] Removed = ["script", "style", "noscript", "template", "iframe", "object", "svg", "nav", "form", "head"];

    public static string Extract(AngleSharp.Dom.IDocument document)
    {
        foreach (var element in document.QuerySelectorAll(string.Join(", ", Removed)).ToArray())
        {
            element.Remove();
        }

        var text = new StringBuilder();
        Walk(document.Body ?? document.DocumentElement, text);
        return System.Text.RegularExpressions.Regex.Replace(text.ToString(), @"[ \t]*\n[ \t\n]*\n", "\n\n").Trim();
    }

    private static readonly HashSet<string> Blocks = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "div", "section", "article", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "table", "ul", "ol", "pre", "blockquote", "header", "footer", "main",
    };

    private static void Walk(AngleSharp.Dom.INode node, StringBuilder text)
    {
        foreach (var child in node.ChildNodes)
        {
            if (child is AngleSharp.Dom.IText t)
            {
                text.Append(System.Text.RegularExpressions.Regex.Replace(t.Data, @"\s+", " "));
            }
            else if (child is AngleSharp.Dom.IElement e)
            {
                var block = Blocks.Contains(e.LocalName);
                if (block)
                {
                    text.Append('\n');
                }

                Walk(e, text);
                if (block)
                {
                    text.Append('\n');
                }
            }
        }
    }
}
