using System.Globalization;
using Microsoft.AspNetCore.Components;
using Steward.Budgets;
using Steward.Web.Chat;
using Steward.Web.Hosting;

namespace Steward.Web.Analytics;

/// <summary>
/// Every budget in its current period; admins add, change and remove the stored ones (those <c>steward budgets set</c>
/// makes) here, checked as the CLI checks them. Budgets from configuration and presets are shown with where they are set.
/// </summary>
public sealed partial class BudgetsCard
{
    private static readonly BudgetScope[] EditableScopes = [BudgetScope.Global, BudgetScope.Agent, BudgetScope.Session, BudgetScope.Request, BudgetScope.Judge];

    private BudgetForm? _form;
    private string? _message;
    private bool _messageIsError;

    /// <summary>The budgets with their status.</summary>
    [Parameter, EditorRequired] public IReadOnlyList<BudgetStatus> Budgets { get; set; } = [];

    /// <summary>The preset names an agent budget may name.</summary>
    [Parameter] public IReadOnlyList<string> Presets { get; set; } = [];

    /// <summary>Whether this user may change budgets (admin).</summary>
    [Parameter] public bool CanEdit { get; set; }

    /// <summary>Called after a budget was saved or removed, for the page to read the statuses again.</summary>
    [Parameter] public EventCallback Changed { get; set; }

    [Inject] private BudgetAdministration Editor { get; set; } = default!;

    [Inject] private Steward.Web.SignIn.StewardAccess Access { get; set; } = default!;

    private static bool IsStored(BudgetPolicy policy) => policy.Source == "cli";

    private static string SourceText(BudgetPolicy policy) => policy.Source switch
    {
        "preset" => $"preset {policy.Agent} (its budget: block)",
        "configuration" => "configuration (Steward:Budgets:Policies)",
        _ => policy.Source,
    };

    private static string ScopeText(BudgetScope scope) => scope switch
    {
        BudgetScope.Global => "All runs (global)",
        BudgetScope.Agent => "Each agent",
        BudgetScope.Session => "Each session",
        BudgetScope.Request => "Each request",
        BudgetScope.Judge => "Evaluation judges",
        _ => scope.ToString(),
    };

    private void StartNew()
    {
        _message = null;
        _form = new BudgetForm { IsNew = true };
    }

    private void StartEdit(BudgetPolicy policy)
    {
        _message = null;
        _form = new BudgetForm
        {
            IsNew = false, Id = policy.Id, Scope = policy.Scope, Agent = policy.Agent, Period = policy.Period, MaxTokens = policy.MaxTokens,
            MaxUsd = policy.MaxUsd, Mode = policy.Mode, Thresholds = string.Join(",", policy.Thresholds.Select(t => t.ToString(CultureInfo.InvariantCulture))),
            Webhook = policy.Webhook,
        };
    }

    private async Task SaveAsync()
    {
        if (_form is not { } form)
        {
            return;
        }

        // The button is disabled for others, but a circuit's event can be sent without it.
        await Access.DemandAsync(StewardPolicies.Admin);
        try
        {
            var policy = new BudgetPolicy
            {
                Id = form.Id.Trim(), Scope = form.Scope, Agent = string.IsNullOrWhiteSpace(form.Agent) ? null : form.Agent, Period = form.Period,
                MaxTokens = form.MaxTokens, MaxUsd = form.MaxUsd, Mode = form.Mode, Thresholds = BudgetAdministration.ParseThresholds(form.Thresholds),
                Webhook = string.IsNullOrWhiteSpace(form.Webhook) ? null : form.Webhook.Trim(),
            };
            await Editor.SetAsync(policy, CancellationToken.None);
            _form = null;
            Say($"Budget {policy.Id} saved: every Steward process on this database enforces it within a few seconds.", error: false);
            await Changed.InvokeAsync();
        }
        catch (ArgumentException ex)
        {
            Say("Not saved: " + ex.Message, error: true);
        }
    }

    private async Task RemoveAsync(string id)
    {
        await Access.DemandAsync(StewardPolicies.Admin);
        if (await Editor.RemoveAsync(id, CancellationToken.None))
        {
            Say($"Budget {id} removed.", error: false);
            await Changed.InvokeAsync();
        }
        else
        {
            Say($"Budget {id} was removed already.", error: true);
        }
    }

    private void Say(string message, bool error)
    {
        _message = message;
        _messageIsError = error;
    }

    // As 'steward budgets set --thresholds' reads them.
    private static string Limit(BudgetPolicy policy) => string.Join(" / ", new[]
    {
        policy.MaxTokens is { } t ? MetricFormat.Tokens(t) + " tokens" : null,
        policy.MaxUsd is { } u ? MetricFormat.Usd(u) : null,
    }.Where(s => s is not null));

    private static string Spent(BudgetStatus gauge) => $"{MetricFormat.Tokens(gauge.SpentTokens)} tokens · {MetricFormat.Usd(gauge.SpentUsd)}";

    private static string Reserved(BudgetStatus gauge) => $"{MetricFormat.Tokens(gauge.ReservedTokens)} tokens · {MetricFormat.Usd(gauge.ReservedUsd)}";

    /// <summary>The budget being written.</summary>
    private sealed class BudgetForm
    {
        public bool IsNew { get; init; }

        public string Id { get; set; } = "";

        public BudgetScope Scope { get; set; } = BudgetScope.Global;

        public string? Agent { get; set; }

        public BudgetPeriod Period { get; set; } = BudgetPeriod.Daily;

        public long? MaxTokens { get; set; }

        public decimal? MaxUsd { get; set; }

        public BudgetMode Mode { get; set; } = BudgetMode.Hard;

        public string Thresholds { get; set; } = "50,80,100";

        public string? Webhook { get; set; }
    }
}
