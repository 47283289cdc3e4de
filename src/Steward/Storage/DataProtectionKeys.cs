using Microsoft.EntityFrameworkCore;

namespace Steward.Storage;

/// <summary>One ASP.NET Core data-protection key (its XML), shared by every instance on the database.</summary>
internal sealed class DataProtectionKeyRecord
{
    public long Id { get; set; }

    /// <summary>The name the key ring gave the element (<c>key-{guid}</c>).</summary>
    public string Name { get; set; } = "";

    public string Xml { get; set; } = "";
}

/// <summary>
/// The key ring of the web host's data protection (antiforgery tokens, Blazor circuits, sign-in cookies) in Steward's
/// database, so instances behind a load balancer unprotect what another protected. Keys are added, never rewritten
/// (the key ring's own rule); a key another instance adds is seen at the key ring's next refresh. Thread-safe. The
/// calls are synchronous because ASP.NET Core's <c>IXmlRepository</c> is.
/// </summary>
public sealed class DataProtectionKeyStore
{
    private readonly IDbContextFactory<StewardDbContext> _contexts;

    internal DataProtectionKeyStore(IDbContextFactory<StewardDbContext> contexts) => _contexts = contexts;

    /// <summary>Every stored key's XML, oldest first.</summary>
    public IReadOnlyList<string> ReadAll()
    {
        using var db = _contexts.CreateDbContext();
        return db.DataProtectionKeys.AsNoTracking().OrderBy(k => k.Id).Select(k => k.Xml).ToList();
    }

    /// <summary>Stores a new key.</summary>
    public void Add(string name, string xml)
    {
        using var db = _contexts.CreateDbContext();
        db.DataProtectionKeys.Add(new DataProtectionKeyRecord { Name = name, Xml = xml });
        db.SaveChanges();
    }
}
