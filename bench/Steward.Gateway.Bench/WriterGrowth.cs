using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Gateway.Bench;

/// <summary>
/// The run writer alone, as the gateway uses it (a whole run with its new session, progress log, model call and
/// exchange, written behind), against a store that grows: the writer's time per run at each step of stored runs. The
/// gateway slowed as runs accumulated; this shows whether the write path does.
/// </summary>
internal static class WriterGrowth
{
    public static async Task RunAsync(IServiceProvider services, int total, int step, int concurrency)
    {
        await services.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None);
        var writer = services.GetRequiredService<RunWriter>();
        var sessions = services.GetRequiredService<SessionStore>();
        Console.WriteLine($"Run writer time per gateway run as the store grows ({concurrency} writes in flight, each a run with its session, 4 events, 1 call, 2 messages):");
        // CPU time as well as wall time: on a shared machine the wall time mostly tells how busy the others are.
        Console.WriteLine("| stored runs | wall µs/run | CPU µs/run (this process) |");
        Console.WriteLine("| ---: | ---: | ---: |");
        using var process = Process.GetCurrentProcess();
        var stored = 0;
        var pending = new List<Task>(concurrency);
        while (stored < total)
        {
            var watch = Stopwatch.StartNew();
            process.Refresh();
            var cpu = process.TotalProcessorTime;
            var from = stored;
            var goal = Math.Min(total, stored + step);
            for (; stored < goal; stored++)
            {
                pending.Add(StoreOneAsync(writer, sessions));
                if (pending.Count == concurrency)
                {
                    await Task.WhenAll(pending);
                    pending.Clear();
                }
            }

            await Task.WhenAll(pending);
            pending.Clear();
            process.Refresh();
            var runs = stored - from;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {stored:N0} | {watch.Elapsed.TotalMicroseconds / runs:0} | {(process.TotalProcessorTime - cpu).TotalMicroseconds / runs:0} |"));
        }
    }

    private static Task StoreOneAsync(RunWriter writer, SessionStore sessions)
    {
        const string Query = "Say hello.";
        var session = sessions.NewSession("up/gpt-4o-mini", Query);
        var now = DateTime.UtcNow;
        var runId = Guid.CreateVersion7();
        var run = new RunRecord
        {
            Id = runId, SessionId = session.Id, PresetName = "up/gpt-4o-mini", Provider = "up", Model = "gpt-4o-mini", Query = Query, Status = "Completed",
            StartedAt = now, EndedAt = now, DurationMs = 1, TimeToFirstTokenMs = 1, InputTokens = 12, OutputTokens = 7, CostNanoUsd = 6000, Purpose = "gateway",
            FinishReason = "stop",
        };
        string[] stages = ["Initializing", "CheckingBudget", "Running", "Completed"];
        var events = stages.Select((stage, i) => new RunEventRecord { RunId = runId, Sequence = i + 1, Stage = stage, Message = "Reserved up to 24 tokens.", Timestamp = now })
            .ToArray();
        ModelCallRecord[] calls =
        [
            new()
            {
                Id = Guid.CreateVersion7(), RunId = runId, Sequence = 1, Purpose = "gateway", PresetName = run.PresetName, Provider = "up", Model = "gpt-4o-mini",
                StartedAt = now, DurationMs = 1, InputTokens = 12, OutputTokens = 7, CostNanoUsd = 6000, MaxOutputTokens = 16, FinishReason = "stop", Status = "Completed",
            },
        ];
        return writer.StoreAsync(run, session, events, (Query, "Hello! How can I help?"), calls, now);
    }
}
