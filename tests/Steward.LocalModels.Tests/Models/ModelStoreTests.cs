using Steward.LocalModels.Models;
using Steward.LocalModels.Tests.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.Models;

public sealed class ModelStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("steward-store").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Touch(string fileName, int length = 10)
    {
        var path = Path.Combine(_root, fileName);
        File.WriteAllBytes(path, new byte[length]);
        return path;
    }

    [Fact]
    public void List_MixedFiles_ListsFinishedGgufFilesAndFlagsKnownOnes()
    {
        Touch("smollm2-360m.gguf", 30);
        Touch("my-model.gguf", 20);
        Touch("half.gguf.partial");
        Touch("smollm2-360m.gguf.sha256");
        Touch("notes.txt");

        var models = new ModelStore(_root).List();

        Assert.Equal(["my-model", "smollm2-360m"], models.Select(m => m.Name));
        Assert.Null(models[0].Known);
        Assert.Equal("smollm2-360m", models[1].Known?.Name);
        Assert.Equal(30, models[1].SizeBytes);
        Assert.Equal(Path.Combine(_root, "smollm2-360m.gguf"), models[1].Path);
    }

    [Fact]
    public void List_MissingFolder_Empty()
    {
        Assert.Empty(new ModelStore(Path.Combine(_root, "nope")).List());
    }

    [Fact]
    public void Resolve_NameInCache_ReturnsItsPath()
    {
        var path = Touch("my-model.gguf");

        Assert.Equal(path, new ModelStore(_root).Resolve("my-model"));
    }

    [Fact]
    public void Resolve_ExistingPath_ReturnsFullPath()
    {
        var elsewhere = Directory.CreateTempSubdirectory("steward-elsewhere");
        try
        {
            var path = Path.Combine(elsewhere.FullName, "x.gguf");
            File.WriteAllBytes(path, [1]);

            Assert.Equal(path, new ModelStore(_root).Resolve(path));
        }
        finally
        {
            elsewhere.Delete(recursive: true);
        }
    }

    [Fact]
    public void Resolve_BareFileNameInCache_Found()
    {
        var path = Touch("copied.gguf");

        Assert.Equal(path, new ModelStore(_root).Resolve("copied.gguf"));
    }

    [Fact]
    public void Resolve_KnownModelUnderUpstreamFileName_Found()
    {
        var known = KnownModels.Find("qwen2.5-0.5b")!;
        var path = Touch(known.FileName);

        Assert.Equal(path, new ModelStore(_root).Resolve("qwen2.5-0.5b"));
    }

    [Fact]
    public void Resolve_KnownModelNotPulled_ThrowsWithPullHint()
    {
        var error = Assert.Throws<ModelNotFoundException>(() => new ModelStore(_root).Resolve("smollm2-360m"));

        Assert.Contains("'smollm2-360m'", error.Message, StringComparison.Ordinal);
        Assert.Contains("steward models pull smollm2-360m", error.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_root, "smollm2-360m.gguf"), error.SearchedPaths);
        Assert.Equal("smollm2-360m", error.RequestedModel);
    }

    [Fact]
    public void Resolve_UnknownName_ThrowsListingKnownNames()
    {
        var error = Assert.Throws<ModelNotFoundException>(() => new ModelStore(_root).Resolve("gpt-5"));

        Assert.Contains("'gpt-5'", error.Message, StringComparison.Ordinal);
        Assert.Contains("qwen2.5-0.5b", error.Message, StringComparison.Ordinal);
        Assert.Contains(".gguf", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_MissingPath_ThrowsNamingThePath()
    {
        var missing = Path.Combine(_root, "sub", "gone.gguf");

        var error = Assert.Throws<ModelNotFoundException>(() => new ModelStore(_root).Resolve(missing));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Remove_ModelWithSidecarAndPartial_DeletesAll()
    {
        Touch("gone.gguf");
        Touch("gone.gguf.sha256");
        Touch("gone.gguf.partial");
        Touch("kept.gguf");
        var store = new ModelStore(_root);

        Assert.True(store.Remove("gone"));
        Assert.False(store.Remove("gone"));
        Assert.Equal(["kept.gguf"], Directory.EnumerateFiles(_root).Select(Path.GetFileName));
    }

    [Fact]
    public void GetPath_NameWithPathCharacters_Throws()
    {
        Assert.Throws<ArgumentException>(() => new ModelStore(_root).GetPath("../escape"));
    }

    [Fact]
    public void GetInfo_Stories260KQ8_ReportsMetadata()
    {
        var info = new ModelStore(_root).GetInfo(TestModels.RequirePath("stories260K-q8_0.gguf"));

        Assert.Equal("llama", info.Architecture);
        Assert.Equal(2048, info.ContextLength);
        Assert.Equal(64, info.EmbeddingLength);
        Assert.Equal(5, info.LayerCount);
        Assert.Equal(512, info.VocabularySize);
        Assert.Equal("llama", info.TokenizerModel);
        Assert.Equal("None", info.ChatTemplateFamily);
        Assert.Equal(32, info.TensorTypes["Q8_0"]);
        Assert.Equal(5, info.TensorTypes["F16"]);
        Assert.Equal(11, info.TensorTypes["F32"]);
        Assert.InRange(info.ParameterCount, 200_000, 300_000);
        Assert.Equal(379_168, info.SizeBytes);
    }

    [Fact]
    public async Task VerifyAsync_SidecarMatchesOrNot_TrueOrThrows()
    {
        var path = Touch("checked.gguf", 100);
        var store = new ModelStore(_root);
        Assert.False(await store.VerifyAsync("checked", cancellationToken: TestContext.Current.CancellationToken));

        var digest = await ModelStore.ComputeSha256Async(path, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(path + ".sha256", $"{digest}  checked.gguf\n", TestContext.Current.CancellationToken);
        Assert.True(await store.VerifyAsync("checked", cancellationToken: TestContext.Current.CancellationToken));

        await File.WriteAllBytesAsync(path, new byte[101], TestContext.Current.CancellationToken);
        var error = await Assert.ThrowsAsync<ModelChecksumException>(() => store.VerifyAsync("checked", cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(digest, error.Expected);
        Assert.NotEqual(digest, error.Actual);
    }

    [Fact]
    public void KnownModels_Catalog_HasHuggingFaceResolveUrlsAndUniqueNames()
    {
        Assert.Equal(KnownModels.All.Count, KnownModels.All.Select(m => m.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(KnownModels.All, m =>
        {
            Assert.Equal("huggingface.co", m.DownloadUrl.Host);
            Assert.Contains("/resolve/main/", m.DownloadUrl.AbsolutePath, StringComparison.Ordinal);
            Assert.EndsWith("/" + m.FileName, m.DownloadUrl.AbsolutePath, StringComparison.Ordinal);
        });
        Assert.NotNull(KnownModels.Find("SmolLM2-360M"));
        Assert.Equal("smollm2-360m", KnownModels.Default.Name);
    }
}
