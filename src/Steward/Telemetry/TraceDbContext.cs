using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Steward.Storage;

namespace Steward.Telemetry;

/// <summary>
/// The embedded trace store's own database. Spans are kept apart from sessions and runs because SQLite has one writer
/// per file: several span rows per run, written in the background, would otherwise hold up the runs' own writes.
/// </summary>
internal class TraceDbContext : DbContext
{
    public TraceDbContext(DbContextOptions<TraceDbContext> options) : base(options)
    {
    }

    protected TraceDbContext(DbContextOptions options) : base(options)
    {
    }

    public DbSet<TraceSpanRecord> TraceSpans => Set<TraceSpanRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<TraceSpanRecord>(e =>
        {
            e.ToTable("trace_spans");
            e.HasKey(t => t.Id);
            e.Property(t => t.TraceId).HasMaxLength(32);
            e.Property(t => t.SpanId).HasMaxLength(16);
            e.Property(t => t.ParentSpanId).HasMaxLength(16);
            e.Property(t => t.Name).HasMaxLength(300);
            e.Property(t => t.Source).HasMaxLength(200);
            e.HasIndex(t => t.TraceId);
            e.HasIndex(t => t.StartTime);
        });
    }
}

/// <summary>Lets <c>dotnet ef migrations add --context TraceDbContext</c> build the model without starting an application.</summary>
internal sealed class DesignTimeTraceDbContextFactory : IDesignTimeDbContextFactory<TraceDbContext>
{
    public TraceDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<TraceDbContext>().UseSqlite("Data Source=design-time-traces.db").Options);
}
