using System.Globalization;
using System.Net;
using System.Text;
using Steward.Agents;

namespace Steward.Evaluation.Batches;

/// <summary>
/// Writes a batch report as one self-contained HTML page (inline CSS, no scripts, no external resources): totals,
/// the baseline comparison, and per case the question, answer, metrics and reasons. All text is HTML-encoded.
/// </summary>
public static class HtmlReportWriter
{
    public static string Write(EvaluationBatchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var t = report.Totals;
        var html = new StringBuilder();
        html.Append(CultureInfo.InvariantCulture, $$"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Steward evaluation: {{E(report.Preset)}} on {{E(report.Dataset)}}</title>
            <style>
            body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2330}
            h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem} table{border-collapse:collapse;width:100%;margin:.5rem 0}
            th,td{border-bottom:1px solid #e3e6ec;padding:.35rem .5rem;text-align:left;vertical-align:top} th{background:#f5f7fa}
            td.n,th.n{text-align:right;font-variant-numeric:tabular-nums} .pass{color:#137333} .fail{color:#b3261e} .muted{color:#6b7280}
            details{border:1px solid #e3e6ec;border-radius:6px;margin:.5rem 0;padding:.4rem .7rem} summary{cursor:pointer}
            pre{white-space:pre-wrap;background:#f8f9fb;padding:.6rem;border-radius:4px;margin:.4rem 0} .cards{display:flex;flex-wrap:wrap;gap:.6rem}
            .card{border:1px solid #e3e6ec;border-radius:6px;padding:.5rem .8rem;min-width:9rem} .card b{display:block;font-size:1.2rem}
            </style></head><body>
            <h1>Evaluation of <code>{{E(report.Preset)}}</code> on <code>{{E(report.Dataset)}}</code></h1>
            <p class="muted">Batch {{report.BatchId}} · {{report.StartedAt:yyyy-MM-dd HH:mm:ss}} UTC · {{(report.EndedAt - report.StartedAt).TotalSeconds:0.0}} s ·
            provider {{E(report.Provider ?? "default")}}{{(report.Model is null ? "" : " / " + E(report.Model))}} · judge {{E(report.Judge ?? "none")}} · concurrency {{report.Concurrency}}</p>
            <div class="cards">
            <div class="card">mean score<b>{{t.MeanScore:0.0}}</b></div>
            <div class="card">pass rate<b>{{t.PassRate:P0}}</b>{{t.Passed}} of {{t.Cases}}</div>
            <div class="card">run failures<b class="{{(t.Failed > 0 ? "fail" : "")}}">{{t.Failed}}</b></div>
            <div class="card">answer cost<b>{{Usd(t.CostUsd)}}</b>{{(t.UnpricedCases > 0 ? $"+ {t.UnpricedCases} unpriced" : "")}}</div>
            <div class="card">judge cost<b>{{Usd(t.JudgeCostUsd)}}</b></div>
            <div class="card">tokens<b>{{t.Tokens.TotalTokens:N0}}</b>{{t.Tokens.InputTokens:N0}} in · {{t.Tokens.OutputTokens:N0}} out</div>
            <div class="card">judge tokens<b>{{t.JudgeTokens.TotalTokens:N0}}</b></div>
            <div class="card">latency p50 / p95<b>{{t.Latency.P50:N0}} / {{t.Latency.P95:N0}} ms</b>p90 {{t.Latency.P90:N0}} · p99 {{t.Latency.P99:N0}} · max {{t.Latency.Max:N0}}</div>
            </div>
            """);

        if (report.Baseline is { } b)
        {
            html.Append(CultureInfo.InvariantCulture, $"""
                <h2>Against the baseline</h2>
                <p>Baseline {E(b.Source)} (batch {b.BaselineBatchId}): mean score {b.BaselineMeanScore:0.0}, pass rate {b.BaselinePassRate:P0}.
                This run: <b class="{(b.Regressed ? "fail" : "pass")}">{Signed(b.ScoreDelta)} points</b>, pass rate {Signed(b.PassRateDelta * 100)} points
                ({(b.Regressed ? $"a regression beyond the tolerance of {b.Tolerance:0.#}" : $"within the tolerance of {b.Tolerance:0.#}")}).</p>
                <table><tr><th>case</th><th class="n">baseline</th><th class="n">now</th><th class="n">delta</th></tr>
                """);
            foreach (var c in b.Cases.OrderBy(c => c.Delta))
            {
                html.Append(CultureInfo.InvariantCulture,
                    $"<tr><td>{E(c.Id)}</td><td class=\"n\">{c.BaselineScore:0.0}</td><td class=\"n\">{c.Score:0.0}</td><td class=\"n {(c.Delta < 0 ? "fail" : c.Delta > 0 ? "pass" : "")}\">{Signed(c.Delta)}</td></tr>\n");
            }

            html.Append("</table>\n");
        }

        if (t.MetricMeans.Count > 0)
        {
            html.Append("<h2>Metrics</h2><table><tr><th>metric</th><th class=\"n\">mean score (0–1)</th></tr>\n");
            foreach (var (name, mean) in t.MetricMeans.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(name)}</td><td class=\"n\">{mean:0.00}</td></tr>\n");
            }

            html.Append("</table>\n");
        }

        html.Append("<h2>Cases</h2>\n");
        foreach (var c in report.Cases)
        {
            var outcome = c.Status != RunStatus.Completed ? $"<span class=\"fail\">{E(c.Status.ToString())}</span>"
                : c.Passed ? "<span class=\"pass\">passed</span>" : "<span class=\"fail\">below the pass mark</span>";
            html.Append(CultureInfo.InvariantCulture, $"""
                <details id="case-{E(c.Id)}"><summary><b>{E(c.Id)}</b> · score {c.Score:0.0} · {outcome} · {c.LatencyMs:N0} ms · {c.Usage.TotalTokens:N0} tokens{(c.Tags.Count > 0 ? " · " + E(string.Join(", ", c.Tags)) : "")}</summary>
                <p><b>Question</b></p><pre>{E(c.Question)}</pre>
                """);
            if (c.Error is { } error)
            {
                html.Append(CultureInfo.InvariantCulture, $"<p class=\"fail\">The run failed ({E(error.Code)}): {E(error.Message)}</p>\n");
            }
            else
            {
                html.Append(CultureInfo.InvariantCulture, $"<p><b>Answer</b></p><pre>{E(c.Answer)}</pre>\n");
            }

            if (c.EvaluationError is { } evaluationError)
            {
                html.Append(CultureInfo.InvariantCulture, $"<p class=\"fail\">Evaluation: {E(evaluationError)}</p>\n");
            }

            if (c.Metrics.Count > 0)
            {
                html.Append("<table><tr><th>metric</th><th class=\"n\">value</th><th class=\"n\">score</th><th class=\"n\">weight</th><th>rating</th><th>reason</th></tr>\n");
                foreach (var m in c.Metrics)
                {
                    var diagnostics = m.Diagnostics.Count == 0 ? "" : "<br><span class=\"muted\">" + E(string.Join(" ", m.Diagnostics)) + "</span>";
                    html.Append(CultureInfo.InvariantCulture,
                        $"<tr><td>{E(m.Name)}</td><td class=\"n\">{(m.Value is { } v ? v.ToString("0.##", CultureInfo.InvariantCulture) : "–")}</td><td class=\"n\">{(m.NormalizedScore is { } s ? s.ToString("0.00", CultureInfo.InvariantCulture) : "–")}</td><td class=\"n\">{m.Weight:0.##}</td><td class=\"{(m.Failed ? "fail" : "")}\">{E(m.Rating ?? "")}</td><td>{E(m.Reason)}{diagnostics}</td></tr>\n");
                }

                html.Append("</table>\n");
            }

            html.Append("</details>\n");
        }

        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Usd(decimal usd) => "$" + usd.ToString(usd is > 0m and < 0.01m ? "0.######" : "0.00##", CultureInfo.InvariantCulture);

    private static string Signed(double value) => value.ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);
}
