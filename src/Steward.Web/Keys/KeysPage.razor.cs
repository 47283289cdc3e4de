using Microsoft.AspNetCore.Components;
using Steward.Budgets;
using Steward.Keys;

namespace Steward.Web.Keys;

/// <summary>The gateway's keys: make one (its secret shown once), see their limits and what is left of their budgets, revoke.</summary>
public sealed partial class KeysPage : IDisposable
{
    private readonly CancellationTokenSource _disposed = new();
    private readonly KeyForm _form = new();
    private IReadOnlyList<(ApiKeyInfo Key, string? Remaining)> _keys = [];
    private (string Name, string Secret)? _created;
    private string? _error;

    [Inject] private KeyUsageQueries Queries { get; set; } = default!;

    [Inject] private ApiKeys Store { get; set; } = default!;

    [Inject] private NavigationManager Navigation { get; set; } = default!;

    [Inject] private TimeProvider Time { get; set; } = default!;

    [Inject] private Steward.Web.SignIn.StewardAccess Access { get; set; } = default!;

    /// <summary>Whether this user may create and revoke keys (admin); others see the list only.</summary>
    private bool _canManage;

    private DateTimeOffset Now => Time.GetUtcNow();

    private string GatewayUrl => Navigation.BaseUri.TrimEnd('/') + "/v1";

    protected override async Task OnInitializedAsync()
    {
        _canManage = await Access.AllowsAsync(Steward.Web.Hosting.StewardPolicies.Admin);
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        try
        {
            _keys = await Queries.GetKeysAsync(_disposed.Token);
        }
        catch (System.Data.Common.DbException)
        {
            _error = "The keys could not be read from the database. Try again in a moment.";
        }
    }

    private async Task CreateAsync()
    {
        _error = null;
        _created = null;
        await Access.DemandAsync(Steward.Web.Hosting.StewardPolicies.Admin);
        try
        {
            var (key, secret) = await Store.CreateAsync(new ApiKeySpec
            {
                Name = _form.Name.Trim(),
                Models = [.. _form.Models.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
                BudgetUsd = _form.BudgetUsd,
                BudgetTokens = _form.BudgetTokens,
                BudgetPeriod = _form.Period,
                RequestsPerMinute = _form.RequestsPerMinute,
                TokensPerMinute = _form.TokensPerMinute,
                ExpiresAt = _form.ExpiresInDays is { } days ? Now.AddDays(days) : null,
                Role = _form.Role is { Length: > 0 } role ? role : null,
            }, _disposed.Token);
            _created = (key.Name, secret);
            _form.Reset();
            await LoadAsync();
        }
        catch (ArgumentException ex)
        {
            _error = ex.Message;
        }
    }

    private async Task RevokeAsync(ApiKeyInfo key)
    {
        _error = null;
        await Access.DemandAsync(Steward.Web.Hosting.StewardPolicies.Admin);
        try
        {
            await Store.RevokeAsync(key.Id, _disposed.Token);
            await LoadAsync();
        }
        catch (ApiKeyNotFoundException ex)
        {
            _error = ex.Message;
        }
    }

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
    }

    /// <summary>What the form holds until the key is made.</summary>
    private sealed class KeyForm
    {
        public string Name { get; set; } = "";
        public string Models { get; set; } = "";
        public decimal? BudgetUsd { get; set; }
        public long? BudgetTokens { get; set; }
        public BudgetPeriod Period { get; set; } = BudgetPeriod.None;
        public int? RequestsPerMinute { get; set; }
        public int? TokensPerMinute { get; set; }
        public int? ExpiresInDays { get; set; }

        /// <summary>The role on /api; empty for a gateway-only key.</summary>
        public string Role { get; set; } = "";

        public void Reset()
        {
            Name = "";
            Models = "";
            BudgetUsd = null;
            BudgetTokens = null;
            Period = BudgetPeriod.None;
            RequestsPerMinute = null;
            TokensPerMinute = null;
            ExpiresInDays = null;
            Role = "";
        }
    }
}
