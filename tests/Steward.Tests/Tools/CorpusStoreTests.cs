using Microsoft.Extensions.Options;
using Steward.Storage;
using Steward.Tools.Corpus;

namespace Steward.Tests.Tools;

/// <summary>The corpus's FTS5 index on real files: ranking, stemming, snippets, replacing and removing documents.</summary>
public sealed class CorpusStoreTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-corpus-");

    private CorpusStore NewStore() => new(Options.Create(new CorpusOptions()),
        Options.Create(new StorageOptions { Database = Path.Combine(_folder.FullName, "steward.db") }), TimeProvider.System);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder.FullName, "docs", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static readonly (string File, string Text)[] Documents =
    [
        ("ev.md", "---\ntitle: EV charging networks\nsource: https://evdata.org/charging\n---\n# EV charging\nPublic chargers for electric vehicles along European highways; fast charging hubs and charge point operators."),
        ("batteries.md", "# Lithium-ion batteries\nBattery cell prices fell as gigafactories scaled; cathode chemistry such as LFP spreads in cheaper cars."),
        ("protein.md", "# Plant-based meat\nRetail volumes of plant-based burgers declined; hybrid products blend meat and plants; price parity is not reached."),
        ("dental.md", "# Dental practice software\nScheduling, patient reminders and insurance claims for dentists; DSOs consolidate clinics."),
        ("warehouse.md", "# Cloud data warehouses\nSeparation of storage and compute, consumption pricing and Apache Iceberg tables."),
        ("coffee.txt", "Specialty coffee roasters\nSingle-origin beans, subscription boxes and cafés; green coffee prices rose after poor harvests in Brazil."),
        ("shipping.html", "<html><head><title>Container shipping rates</title><script>var tracking = 'freight secret';</script></head><body><nav>Home | Freight</nav><h1>Container shipping</h1><p>Freight rates spiked when vessels rerouted around the Cape of Good Hope; carriers added capacity.</p></body></html>"),
        ("solar.md", "# Rooftop solar\nResidential photovoltaic installations, net metering reforms and home battery storage attach rates."),
        ("saas.md", "# Vertical SaaS\nIndustry-specific software wins through payments and workflow depth; churn is low once embedded."),
        ("wine.txt", "Wine exports\nVineyards face climate shifts; exports to China fell while premium sparkling wine grew."),
    ];

    private async Task<CorpusStore> IndexedAsync()
    {
        var store = NewStore();
        var results = await store.AddAsync([Path.GetDirectoryName(Write(Documents[0].File, Documents[0].Text))!, .. Documents.Skip(1).Select(d => Write(d.File, d.Text))], Ct);
        Assert.All(results, r => Assert.Null(r.Problem));
        return store;
    }

    [Theory]
    [InlineData("Where can I charge an electric vehicle on the highway?", "EV charging networks")]
    [InlineData("battery prices and LFP chemistry", "Lithium-ion batteries")]
    [InlineData("Are plant based burgers declining?", "Plant-based meat")]
    [InlineData("software for dentists", "Dental practice software")]
    [InlineData("Iceberg tables and consumption pricing", "Cloud data warehouses")]
    [InlineData("coffee subscriptions", "Specialty coffee roasters")]
    [InlineData("why did freight rates spike?", "Container shipping rates")]
    [InlineData("home batteries with rooftop photovoltaic panels", "Rooftop solar")]
    [InlineData("industry-specific software churn", "Vertical SaaS")]
    [InlineData("sparkling wine exports", "Wine exports")]
    public async Task SearchAsync_Question_RanksTheRightDocumentFirst(string query, string expectedTitle)
    {
        var store = await IndexedAsync();

        var results = await store.SearchAsync(query, 5, Ct);

        Assert.NotEmpty(results);
        Assert.Equal(expectedTitle, results[0].Title);
        Assert.Equal(results.Count, results.Select(r => r.Url).Distinct().Count());
    }

    [Fact]
    public async Task SearchAsync_InflectedWords_MatchThroughStemming()
    {
        var store = await IndexedAsync();

        // "declining" and "consolidating" are not in the documents; "declined" and "consolidate" are.
        Assert.Equal("Plant-based meat", (await store.SearchAsync("declining", 3, Ct))[0].Title);
        Assert.Equal("Dental practice software", (await store.SearchAsync("consolidating", 3, Ct))[0].Title);
    }

    [Fact]
    public async Task SearchAsync_FrontMatterSource_IsTheCitationAddressAndTheSnippetIsFromTheText()
    {
        var store = await IndexedAsync();

        var hit = (await store.SearchAsync("fast charging hubs", 1, Ct)).Single();

        Assert.Equal("https://evdata.org/charging", hit.Url);
        Assert.Contains("charging", hit.Snippet, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("corpus", hit.Backend);
    }

    [Fact]
    public async Task AddAsync_Html_IndexesTheTextWithoutScriptsOrNavigation()
    {
        var store = await IndexedAsync();

        Assert.Empty(await store.SearchAsync("tracking secret", 5, Ct));
        var shipping = (await store.SearchAsync("Cape of Good Hope", 1, Ct)).Single();
        Assert.Equal("Container shipping rates", shipping.Title);
        Assert.DoesNotContain("Home | Freight", shipping.Snippet, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddAsync_SamePathAgain_ReplacesTheDocument()
    {
        var store = await IndexedAsync();
        Write("wine.txt", "Wine exports\nNow about cider orchards only.");

        var again = await store.AddAsync([Path.Combine(_folder.FullName, "docs", "wine.txt")], Ct);

        Assert.True(Assert.Single(again).Updated);
        Assert.Equal(10, (await store.ListAsync(Ct)).Count);
        Assert.Empty(await store.SearchAsync("sparkling", 5, Ct));
        Assert.Single(await store.SearchAsync("cider", 5, Ct));
    }

    [Fact]
    public async Task RemoveAsync_ByIdOrFolder_RemovesFromListAndSearch()
    {
        var store = await IndexedAsync();
        var coffee = (await store.ListAsync(Ct)).Single(e => e.Title == "Specialty coffee roasters");

        Assert.Equal(1, await store.RemoveAsync(coffee.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct));
        Assert.Empty(await store.SearchAsync("coffee", 5, Ct));
        Assert.Equal(9, await store.RemoveAsync(Path.Combine(_folder.FullName, "docs"), Ct));
        Assert.Empty(await store.ListAsync(Ct));
    }

    [Fact]
    public async Task AddAsync_MissingOrUnsupportedFile_IsReportedAndTheRestAdded()
    {
        var store = NewStore();
        var good = Write("good.md", "# Good\nText.");
        var bad = Write("data.csv", "a,b");

        var results = await store.AddAsync([good, bad, Path.Combine(_folder.FullName, "nope.md")], Ct);

        Assert.Null(results.Single(r => r.Source == good).Problem);
        Assert.Contains(".csv files are not supported", results.Single(r => r.Source.EndsWith("data.csv", StringComparison.Ordinal)).Problem, StringComparison.Ordinal);
        Assert.Equal("no such file or folder", results.Single(r => r.Source.EndsWith("nope.md", StringComparison.Ordinal)).Problem);
        Assert.Single(await store.ListAsync(Ct));
    }

    [Fact]
    public async Task AddAsync_Pdf_IndexesItsText()
    {
        var builder = new UglyToad.PdfPig.Writer.PdfDocumentBuilder();
        var font = builder.AddStandard14Font(UglyToad.PdfPig.Fonts.Standard14Fonts.Standard14Font.Helvetica);
        builder.AddPage(UglyToad.PdfPig.Content.PageSize.A4).AddText("Hydrogen electrolysers for steel plants", 12, new UglyToad.PdfPig.Core.PdfPoint(50, 700), font);
        var path = Path.Combine(_folder.FullName, "hydrogen.pdf");
        await File.WriteAllBytesAsync(path, builder.Build(), Ct);
        var store = NewStore();

        Assert.Null(Assert.Single(await store.AddAsync([path], Ct)).Problem);

        var hit = Assert.Single(await store.SearchAsync("electrolysers steel", 5, Ct));
        Assert.Equal(path, hit.Url);
    }

    [Fact]
    public void MatchExpression_FtsSyntaxInTheQuestion_IsQuotedNotInterpreted()
    {
        Assert.Equal("\"ev\" OR \"near\" OR \"charging\"", CorpusStore.MatchExpression("EV NEAR(charging) \"*"));
        Assert.Null(CorpusStore.MatchExpression("what is the ?"));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }
}
