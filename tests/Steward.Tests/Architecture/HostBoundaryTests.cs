using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Steward.Sessions;

namespace Steward.Tests.Architecture;

/// <summary>
/// The hosts (the web app and the CLI) use the engine's public surface only: the engine does not open its internals to
/// them, and their compiled code names no EF Core type and no non-public engine type (read from their metadata, so a
/// page that reached a <c>DbContext</c> through reflection-free code could not pass).
/// </summary>
public sealed class HostBoundaryTests
{
    public static TheoryData<string> Hosts => ["Steward.Web", "Steward.Cli"];

    [Theory]
    [MemberData(nameof(Hosts))]
    public void InternalsVisibleTo_Host_IsNotListed(string host)
    {
        var friends = typeof(StoredSessions).Assembly.GetCustomAttributes<System.Runtime.CompilerServices.InternalsVisibleToAttribute>()
            .Select(a => a.AssemblyName.Split(',')[0].Trim());

        Assert.DoesNotContain(host, friends);
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void TypeReferences_Host_NameNoEntityFrameworkType(string host)
    {
        var referenced = ReferencedTypes(host);

        Assert.NotEmpty(referenced);
        Assert.Empty(referenced.Where(t => t.Namespace.StartsWith("Microsoft.EntityFrameworkCore", StringComparison.Ordinal)).Select(t => t.FullName));
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void TypeReferences_Host_NameOnlyPublicEngineTypes(string host)
    {
        var engine = typeof(StoredSessions).Assembly;
        var fromEngine = ReferencedTypes(host).Where(t => t.Assembly == engine.GetName().Name).ToList();

        Assert.NotEmpty(fromEngine);
        var hidden = fromEngine.Select(t => (t.FullName, Type: engine.GetType(t.FullName, throwOnError: false)))
            .Where(t => t.Type is null || !t.Type.IsVisible).Select(t => t.FullName).ToList();
        Assert.Empty(hidden);
    }

    private sealed record ReferencedType(string Assembly, string Namespace, string FullName);

    // Every type the host's IL and signatures name from another assembly (generic arguments included: they are type
    // references too), with the assembly that defines it.
    private static List<ReferencedType> ReferencedTypes(string host)
    {
        var path = Assembly.Load(new AssemblyName(host)).Location;
        using var pe = new PEReader(File.OpenRead(path));
        var reader = pe.GetMetadataReader();
        return [.. reader.TypeReferences.Select(h => Describe(reader, reader.GetTypeReference(h))).OfType<ReferencedType>()];
    }

    private static ReferencedType? Describe(MetadataReader reader, TypeReference type)
    {
        var name = reader.GetString(type.Name);
        var scope = type.ResolutionScope;
        if (scope.Kind == HandleKind.TypeReference)
        {
            // A nested type: named Outer+Inner, defined where its outer type is.
            return Describe(reader, reader.GetTypeReference((TypeReferenceHandle)scope)) is { } outer
                ? outer with { FullName = outer.FullName + "+" + name }
                : null;
        }

        if (scope.Kind != HandleKind.AssemblyReference)
        {
            return null;
        }

        var assembly = reader.GetString(reader.GetAssemblyReference((AssemblyReferenceHandle)scope).Name);
        var ns = reader.GetString(type.Namespace);
        return new ReferencedType(assembly, ns, ns.Length == 0 ? name : ns + "." + name);
    }
}
