using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Sessions;
using Steward.Web.Hosting;

namespace Steward.Web.Api;

/// <summary>
/// Runs: start one (202 with its links), follow its progress over server-sent events, read its result, list runs with
/// the Traces filters, cancel one, export them. A run started here is the same run as a Chat turn: budgeted, priced,
/// traced, stored, scored; tool calls that need a person's approval are denied (no one is there to approve).
/// </summary>
internal static class RunsEndpoints
{
    public static RouteGroupBuilder MapRunsEndpoints(this RouteGroupBuilder api)
    {
        var runs = api.MapGroup("/runs").WithTags("Runs");
        runs.MapPost("/", StartAsync).RequireAuthorization(StewardPolicies.Operator)
            .Accepts<StartRunRequest>("application/json").WithSummary("Start a run")
            .WithDescription("Starts a run of an agent preset on a message (continuing a session if given) and answers 202 as soon as it is stored; follow it at links.events.");
        runs.MapGet("/", ListAsync).RequireAuthorization(StewardPolicies.Viewer).WithSummary("List runs")
            .WithDescription("Stored runs, newest first, filtered by status, agent, model (contains), text in the question and start time; paged with skip and take (1-200).");
        runs.MapGet("/{id}", GetAsync).RequireAuthorization(StewardPolicies.Viewer).WithSummary("Get a run's result");
        runs.MapGet("/{id}/events", EventsAsync).RequireAuthorization(StewardPolicies.Viewer).WithSummary("Follow a run's progress (server-sent events)")
            .WithDescription("Events named stage, delta, tool_call, function_call, quality, then done or failed carrying the result (as GET /api/runs/{id}); gap when events were dropped from memory before this stream sent them. quality=true keeps the stream open until the answer is scored. Reconnect with Last-Event-ID to resume, at any instance.");
        runs.MapPost("/{id}/cancel", CancelAsync).RequireAuthorization(StewardPolicies.Operator).WithSummary("Cancel a run")
            .WithDescription("Cancels a run wherever it runs: on another instance sharing the database, the request is recorded and that instance stops the run within a second or two.");
        runs.MapGet("/export", RunExportEndpoints.ExportAsync).RequireAuthorization(StewardPolicies.Operator).WithSummary("Export runs (JSONL, CSV or Parquet)");
        return runs;
    }

    internal static async Task<Results<Accepted<RunAccepted>, ProblemHttpResult>> StartAsync(
        HttpContext context, ApiRuns runs, IOptions<ApiOptions> options, CancellationToken cancellationToken)
    {
        var body = await ApiBody.ReadAsync<StartRunRequest>(context, options.Value.MaxRequestBytes, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(body.Agent))
        {
            throw ApiProblem.Invalid("agent", "required: the name of an agent preset (e.g. general_assistant).");
        }

        if (string.IsNullOrWhiteSpace(body.Message))
        {
            throw ApiProblem.Invalid("message", "required: the user's message, not empty.");
        }

        if (body.MaxOutputTokens is <= 0)
        {
            throw ApiProblem.Invalid("maxOutputTokens", "must be more than 0, or left out for the preset's cap.");
        }

        IReadOnlyList<string> tags;
        string? userId;
        try
        {
            tags = RunMetadata.Tags(body.Tags);
        }
        catch (ArgumentException ex)
        {
            throw ApiProblem.Invalid("tags", ex.Message);
        }

        try
        {
            userId = RunMetadata.UserId(body.UserId);
        }
        catch (ArgumentException ex)
        {
            throw ApiProblem.Invalid("userId", ex.Message);
        }

        var accepted = await runs.StartAsync(new RunRequest
        {
            Preset = body.Agent,
            Query = body.Message,
            SessionId = body.SessionId,
            Provider = body.Provider,
            Model = body.Model,
            MaxOutputTokens = body.MaxOutputTokens,
            Tags = tags,
            UserId = userId,
        }, cancellationToken).ConfigureAwait(false);
        return TypedResults.Accepted(accepted.Links.Self, accepted);
    }

    internal static async Task<Results<Ok<RunPage>, ProblemHttpResult>> ListAsync(
        RunSearch search, string? status, string? agent, string? model, string? text, string? tag, string? user, string? from, string? to, string? skip, string? take,
        CancellationToken cancellationToken)
    {
        RunStatus? parsed = null;
        if (!string.IsNullOrWhiteSpace(status))
        {
            if (!Enum.TryParse<RunStatus>(status, ignoreCase: true, out var s) || !Enum.IsDefined(s) || int.TryParse(status, out _))
            {
                throw ApiProblem.Invalid("status", $"'{status}' is not a run status; use one of {string.Join(", ", Enum.GetNames<RunStatus>())}.");
            }

            parsed = s;
        }

        var page = ApiQuery.Page(skip, take, RunSearch.MaxPageSize);
        var (start, end) = ApiQuery.Range(from, to);
        return TypedResults.Ok(await search.SearchAsync(
            new RunQuery
            {
                Status = parsed, Agent = agent, Model = model, Text = text, Tag = string.IsNullOrWhiteSpace(tag) ? null : tag.Trim(),
                UserId = string.IsNullOrWhiteSpace(user) ? null : user.Trim(), From = start, To = end,
            }, page.Skip, page.Take, cancellationToken).ConfigureAwait(false));
    }

    internal static async Task<Results<Ok<RunResult>, ProblemHttpResult>> GetAsync(string id, StoredRuns stored, CancellationToken cancellationToken)
    {
        var runId = ApiQuery.Id("id", id, "run");
        return await stored.GetAsync(runId, cancellationToken).ConfigureAwait(false) is { } found ? TypedResults.Ok(found.Result) : throw NotFound(runId);
    }

    internal static async Task<Results<Accepted<RunResult>, ProblemHttpResult>> CancelAsync(
        string id, ApiRuns runs, RunCancellations cancellations, StoredRuns stored, TimeProvider time, CancellationToken cancellationToken)
    {
        var runId = ApiQuery.Id("id", id, "run");
        if (runs.Find(runId) is { } tracked && !tracked.Finished.Task.IsCompleted)
        {
            await tracked.CancelAsync().ConfigureAwait(false);
            try
            {
                // The outcome is stored before the run reports it: answer with the cancelled run, not a guess, unless
                // it takes long to stop (a tool call that does not listen); then with the run as it is.
                await tracked.Finished.Task.WaitAsync(TimeSpan.FromSeconds(10), time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Answered 202 with status Running; the run's events say when it has ended.
            }

            return TypedResults.Accepted(RunLinks.For(runId).Self, (await stored.GetAsync(runId, cancellationToken).ConfigureAwait(false) ?? throw NotFound(runId)).Result);
        }

        var outcome = await cancellations.RequestAsync(runId, cancellationToken).ConfigureAwait(false);
        var found = await stored.GetAsync(runId, cancellationToken).ConfigureAwait(false);
        if (outcome == RunCancelOutcome.Requested && found is { Result.Status: RunStatus.Running })
        {
            // Another instance runs it and looks for cancel requests twice a second: wait for it to store the outcome.
            var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(10);
            while (found is { Result.Status: RunStatus.Running } && time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken).ConfigureAwait(false);
                found = await stored.GetAsync(runId, cancellationToken).ConfigureAwait(false);
            }
        }

        if (found is null)
        {
            throw NotFound(runId);
        }

        if (outcome == RunCancelOutcome.NotRunning && found.Value.Result.Status != RunStatus.Cancelled)
        {
            throw new ApiProblem(StatusCodes.Status409Conflict, "Run not in progress",
                $"Run {id} has ended already ({found.Value.Result.Status}); there is nothing to cancel.");
        }

        return TypedResults.Accepted(found.Value.Result.Links.Self, found.Value.Result);
    }

    internal static async Task<Results<ServerSentEventsResult<ApiRunEvent>, ServerSentEventsResult<JsonElement>, ProblemHttpResult>> EventsAsync(
        string id, HttpContext context, ApiRuns runs, StoredRuns stored, RunStreamLog shared, TimeProvider time, string? quality, CancellationToken cancellationToken)
    {
        var runId = ApiQuery.Id("id", id, "run");
        var untilScored = ApiQuery.Bool("quality", quality) ?? false;
        var from = int.TryParse(context.Request.Headers["Last-Event-ID"], out var last) && last >= 0 ? last + 1 : 0;
        if (runs.Find(runId) is { } tracked)
        {
            return TypedResults.ServerSentEvents(LiveAsync(tracked, from, untilScored, time, cancellationToken));
        }

        if (await stored.GetAsync(runId, cancellationToken).ConfigureAwait(false) is null)
        {
            throw NotFound(runId);
        }

        return shared.IsShared
            ? TypedResults.ServerSentEvents(SharedAsync(runId, from, untilScored, shared, stored, time, cancellationToken))
            : TypedResults.ServerSentEvents(StoredAsync(runId, stored, time, cancellationToken));
    }

    private static async IAsyncEnumerable<SseItem<ApiRunEvent>> LiveAsync(
        TrackedRun run, int from, bool untilScored, TimeProvider time, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var e in run.ReadAsync(from, untilScored, cancellationToken).ConfigureAwait(false))
        {
            var (name, data) = e.IsGap
                ? (ApiRunEvent.GapEvent, ApiRunEvent.Missed(run.Id ?? Guid.Empty, e.MissedFrom, e.MissedTo, time.GetUtcNow()))
                : ApiRuns.ToEvent(run, e.Progress!);
            yield return new SseItem<ApiRunEvent>(data, name) { EventId = e.Index.ToString(CultureInfo.InvariantCulture) };
        }
    }

    /// <summary>
    /// A run another instance on the shared database executes (or executed): its events as that instance wrote them, with
    /// the same ids, polled until the terminal one (or, with <paramref name="untilScored"/>, the end of its stream). A run
    /// whose events are not there (run from Chat, the gateway or the CLI, or expired) gets its stored log and result once
    /// it ends; so does one whose instance stopped mid-way (a live instance marks it interrupted).
    /// </summary>
    private static async IAsyncEnumerable<SseItem<JsonElement>> SharedAsync(
        Guid id, int from, bool untilScored, RunStreamLog shared, StoredRuns stored, TimeProvider time, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var next = from;
        var sawAny = false;
        var quietSince = time.GetUtcNow();
        while (true)
        {
            var batch = await shared.ReadAsync(id, next, 500, cancellationToken).ConfigureAwait(false);
            foreach (var e in batch)
            {
                if (e.Name == RunEventRelay.EndMarker)
                {
                    yield break;
                }

                if (e.Index > next)
                {
                    var gap = ApiRunEvent.Missed(id, next, e.Index - 1, time.GetUtcNow());
                    yield return new SseItem<JsonElement>(JsonSerializer.SerializeToElement(gap, ApiBody.JsonOptions), ApiRunEvent.GapEvent)
                    {
                        EventId = (e.Index - 1).ToString(CultureInfo.InvariantCulture),
                    };
                }

                using var data = JsonDocument.Parse(e.Data);
                yield return new SseItem<JsonElement>(data.RootElement.Clone(), e.Name) { EventId = e.Index.ToString(CultureInfo.InvariantCulture) };
                next = e.Index + 1;
                sawAny = true;
                if (!untilScored && e.Name is ApiRunEvent.DoneEvent or ApiRunEvent.FailedEvent)
                {
                    yield break;
                }
            }

            if (batch.Count > 0)
            {
                quietSince = time.GetUtcNow();
                continue;
            }

            var state = await shared.StateAsync(id, cancellationToken).ConfigureAwait(false);
            if (!state.Exists)
            {
                yield break;
            }

            // Ended (and scored, when asked to wait for that) with nothing more written for a while: the instance that ran it
            // has stopped, or never shared its events. The stored result ends the stream.
            var ended = state.Status != RunStatus.Running && !(untilScored && state.EvaluationPending);
            if (ended && (!sawAny || time.GetUtcNow() - quietSince > TimeSpan.FromSeconds(2)))
            {
                await foreach (var item in StoredAsync(id, stored, time, cancellationToken).ConfigureAwait(false))
                {
                    if (sawAny && item.EventType == ApiRunEvent.StageEvent)
                    {
                        // Its stages were streamed already; only the outcome is missing.
                        continue;
                    }

                    yield return new SseItem<JsonElement>(JsonSerializer.SerializeToElement(item.Data, ApiBody.JsonOptions), item.EventType);
                }

                yield break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A run this process is not following (run from Chat, the gateway, the CLI or another instance, or whose events have
    /// expired): its stored progress log once it has ended, then its result.
    /// </summary>
    private static async IAsyncEnumerable<SseItem<ApiRunEvent>> StoredAsync(Guid id, StoredRuns stored, TimeProvider time, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            if (await stored.GetAsync(id, cancellationToken).ConfigureAwait(false) is not { } found)
            {
                yield break;
            }

            if (found.Result.Status == RunStatus.Running)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            foreach (var e in found.Events)
            {
                var data = new ApiRunEvent(id, e.Stage, e.Message, e.Timestamp, null);
                yield return new SseItem<ApiRunEvent>(data, ApiRunEvent.StageEvent);
            }

            var result = found.Result;
            var stage = result.Status switch
            {
                RunStatus.Completed => RunStage.Completed,
                RunStatus.Cancelled => RunStage.Cancelled,
                RunStatus.BudgetExceeded => RunStage.BudgetExceeded,
                _ => RunStage.Failed,
            };
            yield return new SseItem<ApiRunEvent>(
                new ApiRunEvent(id, stage, result.Error ?? "Completed.", result.EndedAt ?? time.GetUtcNow(), null) { Result = result }, ApiRunEvent.Terminal(result.Status));
            yield break;
        }
    }

    private static ApiProblem NotFound(Guid id) => ApiProblem.NotFound("Run not found", $"No run with id {id}. List runs with GET /api/runs.");
}

