using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Steward.Storage;

/// <summary>
/// Steward's database: sessions, messages, runs and each run's progress log. This type's model and migrations are
/// SQLite's; <see cref="Postgres.PostgresStewardDbContext"/> has PostgreSQL's (EF Core keeps migrations per context type),
/// which add the budget ledger's tables (on SQLite they are a file of their own, <see cref="BudgetLedgerDbContext"/>).
/// </summary>
internal class StewardDbContext : DbContext
{
    public StewardDbContext(DbContextOptions<StewardDbContext> options) : base(options)
    {
    }

    protected StewardDbContext(DbContextOptions options) : base(options)
    {
    }

    /// <summary>A column as the provider's SQL names it in an index filter (PostgreSQL's are quoted, being mixed case).</summary>
    protected virtual string Column(string name) => name;

    public DbSet<SessionRecord> Sessions => Set<SessionRecord>();
    public DbSet<MessageRecord> Messages => Set<MessageRecord>();
    public DbSet<RunRecord> Runs => Set<RunRecord>();
    public DbSet<RunEventRecord> RunEvents => Set<RunEventRecord>();
    public DbSet<RunTagRecord> RunTags => Set<RunTagRecord>();
    public DbSet<BudgetPolicyRecord> BudgetPolicies => Set<BudgetPolicyRecord>();
    public DbSet<EvaluationRecord> Evaluations => Set<EvaluationRecord>();
    public DbSet<EvaluationMetricRecord> EvaluationMetrics => Set<EvaluationMetricRecord>();
    public DbSet<EvaluationBatchRecord> EvaluationBatches => Set<EvaluationBatchRecord>();
    public DbSet<ModelCallRecord> ModelCalls => Set<ModelCallRecord>();
    public DbSet<ProcessLeaseRecord> ProcessLeases => Set<ProcessLeaseRecord>();
    public DbSet<ToolCallRecord> ToolCalls => Set<ToolCallRecord>();
    public DbSet<CitationRecord> Citations => Set<CitationRecord>();
    public DbSet<FeedbackRecord> Feedback => Set<FeedbackRecord>();
    public DbSet<ApiKeyRecord> ApiKeys => Set<ApiKeyRecord>();
    public DbSet<DataProtectionKeyRecord> DataProtectionKeys => Set<DataProtectionKeyRecord>();
    public DbSet<RunRollupRecord> RunRollups => Set<RunRollupRecord>();
    public DbSet<LatencyRollupRecord> LatencyRollups => Set<LatencyRollupRecord>();
    public DbSet<FacetRollupRecord> FacetRollups => Set<FacetRollupRecord>();
    public DbSet<FirstTokenRollupRecord> FirstTokenRollups => Set<FirstTokenRollupRecord>();
    public DbSet<QualityRollupRecord> QualityRollups => Set<QualityRollupRecord>();
    public DbSet<QualityMetricRollupRecord> QualityMetricRollups => Set<QualityMetricRollupRecord>();
    public DbSet<UserRecord> Users => Set<UserRecord>();
    public DbSet<RunStreamEventRecord> RunStreamEvents => Set<RunStreamEventRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<SessionRecord>(e =>
        {
            e.ToTable("sessions");
            e.HasKey(s => s.Id);
            e.Property(s => s.Title).HasMaxLength(200);
            e.Property(s => s.PresetName).HasMaxLength(100);
            e.Property(s => s.ProviderConversationId).HasMaxLength(200);
            // History pages newest activity first, within an agent or not. Each index also carries every summary column
            // History filters on (evaluation cases hidden, cost range, quality), so the count and the page are read from
            // the index alone: on a million runs, a filter that had to look up each session's row, or an index on cost
            // alone that made the database sort every match by activity, cost a second a page.
            e.HasIndex(s => new { s.UpdatedAt, s.Id, s.RunCount, s.EvalRuns, s.CostNanoUsd, s.Scored, s.ScoreSum }, "IX_sessions_History");
            e.HasIndex(s => new { s.PresetName, s.UpdatedAt, s.Id, s.RunCount, s.EvalRuns, s.CostNanoUsd, s.Scored, s.ScoreSum }, "IX_sessions_History_Agent");
            foreach (var summary in (string[])[nameof(SessionRecord.RunCount), nameof(SessionRecord.EvalRuns), nameof(SessionRecord.Tokens),
                nameof(SessionRecord.PricedRuns), nameof(SessionRecord.UnpricedRuns), nameof(SessionRecord.CostNanoUsd), nameof(SessionRecord.ScoreSum),
                nameof(SessionRecord.Scored), nameof(SessionRecord.FeedbackUp), nameof(SessionRecord.FeedbackDown)])
            {
                // Written by the database's triggers only: an entity EF Core saves never carries a stale sum back.
                var property = e.Property(summary);
                property.HasDefaultValue(Activator.CreateInstance(property.Metadata.ClrType));
                property.Metadata.SetBeforeSaveBehavior(Microsoft.EntityFrameworkCore.Metadata.PropertySaveBehavior.Ignore);
                property.Metadata.SetAfterSaveBehavior(Microsoft.EntityFrameworkCore.Metadata.PropertySaveBehavior.Ignore);
            }

            e.HasMany(s => s.Messages).WithOne().HasForeignKey(m => m.SessionId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(s => s.Runs).WithOne().HasForeignKey(r => r.SessionId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<MessageRecord>(e =>
        {
            e.ToTable("messages");
            e.HasKey(m => m.Id);
            e.Property(m => m.Role).HasMaxLength(20);
            e.HasIndex(m => new { m.SessionId, m.Sequence }).IsUnique();
        });

        modelBuilder.Entity<RunRecord>(e =>
        {
            e.ToTable("runs");
            e.HasKey(r => r.Id);
            e.Property(r => r.Status).HasMaxLength(20);
            e.Property(r => r.PresetName).HasMaxLength(100);
            e.Property(r => r.Provider).HasMaxLength(100);
            e.Property(r => r.Model).HasMaxLength(200);
            e.HasIndex(r => r.StartedAt);
            // The sweep finds running runs by it, Traces counts and pages a status's runs newest first. A run's end moves its
            // entry to the newest end of its status: next to the other runs just ended, not (as under the former key,
            // DurationMs after Status) to a leaf picked by its duration, ~13 of the ~74 pages each commit of the run writer wrote.
            e.HasIndex(r => new { r.Status, r.StartedAt });
            e.HasIndex(r => new { r.PresetName, r.StartedAt });
            e.Property(r => r.Purpose).HasMaxLength(20).HasDefaultValue("agent");
            e.Property(r => r.FinishReason).HasMaxLength(40);
            e.Property(r => r.EvaluationStatus).HasMaxLength(20);
            e.Property(r => r.ApiKeyId).HasMaxLength(40);
            // Analytics adds up a key's runs by time; only gateway runs carry a key, so the index holds only those.
            e.HasIndex(r => new { r.ApiKeyId, r.StartedAt }).HasFilter($"{Column("ApiKeyId")} IS NOT NULL");
            e.HasMany(r => r.Events).WithOne().HasForeignKey(ev => ev.RunId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(r => r.Calls).WithOne().HasForeignKey(c => c.RunId).OnDelete(DeleteBehavior.Cascade).HasConstraintName("FK_model_calls_runs_RunId");
            e.HasMany(r => r.ToolCalls).WithOne().HasForeignKey(c => c.RunId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(r => r.Citations).WithOne().HasForeignKey(c => c.RunId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne(r => r.Feedback).WithOne().HasForeignKey<FeedbackRecord>(f => f.RunId).OnDelete(DeleteBehavior.Cascade);
            e.Property(r => r.UserId).HasMaxLength(Agents.RunMetadata.MaxUserIdLength);
            // Cost by user and the user filter read a user's runs by time; runs made for nobody in particular are not indexed.
            e.HasIndex(r => new { r.UserId, r.StartedAt }).HasFilter($"{Column("UserId")} IS NOT NULL");
            e.HasMany(r => r.Tags).WithOne().HasForeignKey(t => t.RunId).OnDelete(DeleteBehavior.Cascade);
            // The instance running a run looks for cancel requests among its own running runs (by owner).
            e.HasIndex(r => new { r.Owner, r.CancelRequestedAt }).HasFilter($"{Column("CancelRequestedAt")} IS NOT NULL");
            // A run's sole model call, when it agrees with the run on everything the two share, is stored on the run's row
            // (these columns and the run's own) and read back through the model_calls view: see ModelCallRecord below.
            e.Property<Guid?>(InlineCall.Id);
            e.Property<int?>(InlineCall.Sequence);
            e.Property<string?>(InlineCall.ResponseModel).HasMaxLength(200);
            e.Property<DateTime?>(InlineCall.StartedAt);
            e.Property<double?>(InlineCall.DurationMs);
            e.Property<double?>(InlineCall.TimeToFirstTokenMs);
            e.Property<bool?>(InlineCall.SelfHosted);
            e.Property<int?>(InlineCall.MaxOutputTokens);
            e.Property<string?>(InlineCall.Status).HasMaxLength(20);
            e.Property<string?>(InlineCall.Error);
            e.Property<string?>(InlineCall.SpanId);
        });

        modelBuilder.Entity<RunStreamEventRecord>(e =>
        {
            // No foreign key to runs: a run's first events come before its row is written.
            e.ToTable("run_stream_events");
            e.HasKey(x => new { x.RunId, x.Index });
            e.Property(x => x.Name).HasMaxLength(20);
            e.HasIndex(x => x.CreatedAt);
        });

        modelBuilder.Entity<RunTagRecord>(e =>
        {
            // Untagged runs write no row here; the Tag index finds a tag's runs for the filters and cost by tag.
            e.ToTable("run_tags");
            e.HasKey(t => new { t.RunId, t.Tag });
            e.Property(t => t.Tag).HasMaxLength(Agents.RunMetadata.MaxTagLength);
            e.HasIndex(t => t.Tag);
        });

        modelBuilder.Entity<FeedbackRecord>(e =>
        {
            // One row per run that someone rated: a later rating replaces the earlier one.
            e.ToTable("run_feedback");
            e.HasKey(f => f.RunId);
            e.Property(f => f.Source).HasMaxLength(20);
            e.Property(f => f.Comment).HasMaxLength(FeedbackRecord.MaxCommentLength);
        });

        modelBuilder.Entity<ToolCallRecord>(e =>
        {
            // Runs without tools write no row here: the table costs nothing to a run that calls none.
            e.ToTable("run_tool_calls");
            e.HasKey(c => new { c.RunId, c.Sequence });
            e.Property(c => c.CallId).HasMaxLength(200);
            e.Property(c => c.Name).HasMaxLength(200);
            e.Property(c => c.Server).HasMaxLength(100);
            e.Property(c => c.Approval).HasMaxLength(20);
        });

        modelBuilder.Entity<CitationRecord>(e =>
        {
            e.ToTable("run_citations");
            e.HasKey(c => new { c.RunId, c.Number });
            e.Property(c => c.Source).HasMaxLength(100);
        });

        modelBuilder.Entity<ModelCallRecord>(e =>
        {
            // Read through the model_calls view (a run's inline call and these rows); written to the table, created WITHOUT
            // ROWID by its migration: the key is the table, so a call costs one B-tree page, not four. Its constraints keep
            // the names they had when the table was model_calls.
            e.ToTable(InlineCall.RowsTable);
            e.ToView(InlineCall.View);
            e.HasKey(c => new { c.RunId, c.Purpose, c.Sequence }).HasName("PK_model_calls");
            e.Property(c => c.Purpose).HasMaxLength(20);
            e.Property(c => c.PresetName).HasMaxLength(100);
            e.Property(c => c.Provider).HasMaxLength(100);
            e.Property(c => c.Model).HasMaxLength(200);
            e.Property(c => c.ResponseModel).HasMaxLength(200);
            e.Property(c => c.FinishReason).HasMaxLength(40);
            e.Property(c => c.Status).HasMaxLength(20);
            // Cost reports add up judge calls by day; agent calls (one per run, or more) are not indexed there.
            e.HasIndex(c => new { c.Purpose, c.StartedAt }).HasFilter($"{Column("Purpose")} = 'judge'").HasDatabaseName("IX_model_calls_Purpose_StartedAt");
        });

        modelBuilder.Entity<ApiKeyRecord>(e =>
        {
            e.ToTable("api_keys");
            e.HasKey(k => k.Id);
            e.Property(k => k.Id).HasMaxLength(40);
            e.Property(k => k.Name).HasMaxLength(100);
            e.Property(k => k.Prefix).HasMaxLength(20);
            e.Property(k => k.Hash).HasMaxLength(64);
            e.Property(k => k.BudgetPeriod).HasMaxLength(20);
            e.Property(k => k.Role).HasMaxLength(20);
            e.HasIndex(k => k.Name).IsUnique();
            e.HasIndex(k => k.Hash).IsUnique();
        });

        modelBuilder.Entity<UserRecord>(e =>
        {
            e.ToTable("users");
            e.HasKey(u => u.Id);
            e.Property(u => u.Id).HasMaxLength(40);
            e.Property(u => u.Name).HasMaxLength(100);
            e.Property(u => u.NormalizedName).HasMaxLength(100);
            e.Property(u => u.PasswordHash).HasMaxLength(200);
            e.Property(u => u.Role).HasMaxLength(20);
            e.Property(u => u.Stamp).HasMaxLength(40);
            e.HasIndex(u => u.NormalizedName).IsUnique();
            e.HasIndex(u => u.FirstAdmin).IsUnique();
        });

        modelBuilder.Entity<ProcessLeaseRecord>(e =>
        {
            e.ToTable("process_leases");
            e.HasKey(l => l.Id);
            e.Property(l => l.Id).HasMaxLength(200);
            e.Property(l => l.Machine).HasMaxLength(200);
        });

        modelBuilder.Entity<BudgetPolicyRecord>(e =>
        {
            e.ToTable("budget_policies");
            e.HasKey(p => p.Id);
            e.Property(p => p.Id).HasMaxLength(100);
        });

        modelBuilder.Entity<EvaluationRecord>(e =>
        {
            e.ToTable("evaluations");
            e.HasKey(ev => ev.RunId);
            e.Property(ev => ev.PresetName).HasMaxLength(100);
            e.Property(ev => ev.JudgeProvider).HasMaxLength(100);
            e.Property(ev => ev.JudgeModel).HasMaxLength(200);
            e.Property(ev => ev.CaseId).HasMaxLength(200);
            e.HasIndex(ev => new { ev.PresetName, ev.EvaluatedAt });
            e.HasIndex(ev => ev.BatchId);
            e.HasOne<RunRecord>().WithOne().HasForeignKey<EvaluationRecord>(ev => ev.RunId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(ev => ev.Metrics).WithOne().HasForeignKey(m => m.RunId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<EvaluationMetricRecord>(e =>
        {
            e.ToTable("evaluation_metrics");
            e.HasKey(m => m.Id);
            e.Property(m => m.Name).HasMaxLength(100);
            e.Property(m => m.Evaluator).HasMaxLength(100);
            e.Property(m => m.Rating).HasMaxLength(20);
            e.HasIndex(m => new { m.RunId, m.Sequence }).IsUnique();
            e.HasIndex(m => m.Name);
        });

        modelBuilder.Entity<EvaluationBatchRecord>(e =>
        {
            e.ToTable("evaluation_batches");
            e.HasKey(b => b.Id);
            e.Property(b => b.PresetName).HasMaxLength(100);
            e.Property(b => b.Dataset).HasMaxLength(400);
            e.HasIndex(b => new { b.PresetName, b.StartedAt });
        });

        modelBuilder.Entity<DataProtectionKeyRecord>(e =>
        {
            e.ToTable("data_protection_keys");
            e.HasKey(k => k.Id);
            e.Property(k => k.Name).HasMaxLength(200);
        });

        modelBuilder.Entity<RunRollupRecord>(e =>
        {
            e.ToTable("run_rollups");
            e.HasKey(r => new { r.Hour, r.PresetName, r.Provider, r.Model });
            e.Property(r => r.PresetName).HasMaxLength(100);
            e.Property(r => r.Provider).HasMaxLength(100);
            e.Property(r => r.Model).HasMaxLength(200);
        });

        modelBuilder.Entity<FacetRollupRecord>(e =>
        {
            // Facet and value lead the key: one user's or one tag's rows (or every run's, facet "") are one range of it.
            e.ToTable("run_facet_rollups");
            e.HasKey(r => new { r.Facet, r.Value, r.Day, r.PresetName, r.Provider, r.Model, r.Status });
            e.Property(r => r.Facet).HasMaxLength(10);
            e.Property(r => r.Value).HasMaxLength(Agents.RunMetadata.MaxUserIdLength);
            e.Property(r => r.PresetName).HasMaxLength(100);
            e.Property(r => r.Provider).HasMaxLength(100);
            e.Property(r => r.Model).HasMaxLength(200);
            e.Property(r => r.Status).HasMaxLength(20);
        });

        modelBuilder.Entity<FirstTokenRollupRecord>(e =>
        {
            e.ToTable("first_token_rollups");
            e.HasKey(r => new { r.Day, r.PresetName, r.Provider, r.Model, r.Bucket });
            e.Property(r => r.PresetName).HasMaxLength(100);
            e.Property(r => r.Provider).HasMaxLength(100);
            e.Property(r => r.Model).HasMaxLength(200);
        });

        modelBuilder.Entity<LatencyRollupRecord>(e =>
        {
            e.ToTable("latency_rollups");
            e.HasKey(r => new { r.Day, r.PresetName, r.Provider, r.Model, r.Bucket });
            e.Property(r => r.PresetName).HasMaxLength(100);
            e.Property(r => r.Provider).HasMaxLength(100);
            e.Property(r => r.Model).HasMaxLength(200);
        });

        modelBuilder.Entity<QualityRollupRecord>(e =>
        {
            e.ToTable("quality_rollups");
            e.HasKey(r => new { r.Hour, r.PresetName, r.Provider, r.Model });
            e.Property(r => r.PresetName).HasMaxLength(100);
            e.Property(r => r.Provider).HasMaxLength(100);
            e.Property(r => r.Model).HasMaxLength(200);
        });

        modelBuilder.Entity<QualityMetricRollupRecord>(e =>
        {
            e.ToTable("quality_metric_rollups");
            e.HasKey(r => new { r.Hour, r.PresetName, r.Provider, r.Model, r.Name });
            e.Property(r => r.PresetName).HasMaxLength(100);
            e.Property(r => r.Provider).HasMaxLength(100);
            e.Property(r => r.Model).HasMaxLength(200);
            e.Property(r => r.Name).HasMaxLength(100);
        });

        modelBuilder.Entity<RunEventRecord>(e =>
        {
            e.ToTable("run_events");
            e.HasKey(ev => ev.Id);
            e.Property(ev => ev.Stage).HasMaxLength(20);
            e.HasIndex(ev => new { ev.RunId, ev.Sequence }).IsUnique();
        });
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Everything is stored in UTC; reading it back must not turn it into local or unspecified time.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
    }

    private sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
}
