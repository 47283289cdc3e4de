using System.Net.Http.Json;
using Microsoft.Extensions.Logging;

namespace Steward.Budgets;

/// <summary>
/// Tells people a budget threshold was reached: a warning in the log and, when the policy names one, a JSON POST to
/// its webhook, sent off the run's path (a slow or failing webhook never delays or fails a run).
/// </summary>
internal sealed partial class BudgetAlertNotifier(IHttpClientFactory httpClients, ILogger<BudgetAlertNotifier> logger)
{
    internal const string HttpClientName = "steward-budget-webhooks";

    /// <summary>Webhook deliveries still in flight; tests and shutdown can wait for them.</summary>
    internal Task Pending => Task.WhenAll(_pending.Keys);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Task, byte> _pending = new();

    public void Notify(BudgetAlert alert, string? webhook)
    {
        LogThresholdReached(alert.PolicyId, alert.Scope, alert.Period, alert.Threshold, alert.Spent, alert.Limit, alert.Unit);
        if (webhook is null)
        {
            return;
        }

        var delivery = DeliverAsync(alert, new Uri(webhook));
        _pending[delivery] = 0;
        _ = delivery.ContinueWith(t => _pending.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task DeliverAsync(BudgetAlert alert, Uri webhook)
    {
        try
        {
            using var http = httpClients.CreateClient(HttpClientName);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            using var response = await http.PostAsJsonAsync(webhook, new
            {
                type = "steward.budget.threshold",
                policy = alert.PolicyId,
                scope = alert.Scope,
                period = alert.Period,
                threshold_percent = alert.Threshold,
                unit = alert.Unit,
                limit = alert.Limit,
                spent = alert.Spent,
                message = alert.Describe(),
            }, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                LogWebhookFailed(null, webhook.Host, (int)response.StatusCode);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            LogWebhookFailed(ex, webhook.Host, 0);
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Budget {PolicyId} ({Scope}, {Period}) reached {Threshold}%: {Spent} of {Limit} {Unit}.")]
    private partial void LogThresholdReached(string policyId, string scope, string period, int threshold, decimal spent, decimal limit, string unit);

    // An error: the alert reached nobody. (The CLI shows only errors of this class; its alerts are already progress lines.)
    [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "Budget alert webhook to {Host} failed (status {Status}).")]
    private partial void LogWebhookFailed(Exception? exception, string host, int status);
}
