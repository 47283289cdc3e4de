using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Steward.Storage;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting an application.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<StewardDbContext>
{
    public StewardDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<StewardDbContext>().UseSqlite("Data Source=design-time.db").Options);
}
