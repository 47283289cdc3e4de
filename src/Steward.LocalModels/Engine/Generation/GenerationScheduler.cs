using System.Threading.Channels;

namespace Steward.LocalModels.Engine.Generation;

/// <summary>
/// Runs several generations at once over one <see cref="TransformerModel"/>, like llama.cpp server's parallel slots:
/// each generation holds a slot (its own KV cache region) and one engine thread steps them all, decoding the next
/// token of every running generation in one batch (every weight is read once for all of them) and running prompts
/// one ubatch at a time in between, so a long prompt does not stop the others for its whole length. Generations
/// beyond the slot count wait in arrival order.
/// <para>
/// The engine thread samples too, and hands each token to its generation's channel: it never waits for a consumer,
/// so a slow reader delays nobody. A row's arithmetic is the same alone or in a batch (see
/// <see cref="TransformerModel.Decode"/>), so a generation's tokens do not depend on what else runs. A generation
/// whose token is cancelled, or whose stream is disposed, is dropped at the next step and its slot freed; the others
/// continue.
/// </para>
/// </summary>
internal sealed class GenerationScheduler : IDisposable
{
    private readonly TransformerModel _model;
    private readonly TokenGenerator[] _generators;
    private readonly bool[] _busy;
    private readonly long[] _lastUse;
    private readonly SemaphoreSlim _free;
    private readonly object _lock = new();
    private readonly List<GenerationStream> _incoming = [];
    private readonly List<GenerationStream> _active = [];
    private readonly Thread _thread;
    private readonly int[] _slots;
    private readonly int[] _tokens;
    private readonly int[] _positions;
    private readonly List<GenerationStream> _batch = [];
    private long _uses;
    private int _nextDecoder;
    private bool _lastWasPrompt;
    private bool _disposed;

    public GenerationScheduler(TransformerModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _generators = [.. Enumerable.Range(0, model.Slots).Select(s => new TokenGenerator(model, s))];
        _busy = new bool[model.Slots];
        _lastUse = new long[model.Slots];
        _free = new SemaphoreSlim(model.Slots, model.Slots);
        var rows = model.MaxDecodeRows;
        _slots = new int[rows];
        _tokens = new int[rows];
        _positions = new int[rows];
        _thread = new Thread(Loop) { IsBackground = true, Name = "steward-engine" };
        _thread.Start();
    }

    /// <summary>Decode batches run so far, and the rows they decoded (the average batch, for the tests and the benchmark).</summary>
    public (long Batches, long Rows) DecodeTotals { get; private set; }

    /// <summary>
    /// Waits for a free slot, then starts generating: the slot whose cache holds the longest prefix of
    /// <paramref name="prompt"/> is taken, else the least recently used. Read the tokens from the returned stream and
    /// dispose it when done (early disposal stops the generation).
    /// </summary>
    /// <exception cref="ContextWindowExceededException">The prompt plus <see cref="GenerationOptions.MaxTokens"/> does not fit (thrown before waiting).</exception>
    public async Task<GenerationStream> StartAsync(IReadOnlyList<int> prompt, GenerationOptions options, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        TokenGenerator.Validate(_model, prompt, options);
        await _free.WaitAsync(cancellationToken).ConfigureAwait(false);
        GenerationStream stream;
        lock (_lock)
        {
            var slot = -1;
            var best = -1;
            for (var s = 0; s < _busy.Length; s++)
            {
                if (_busy[s])
                {
                    continue;
                }

                var prefix = _generators[s].CachedPrefix(prompt);
                if (prefix > best || (prefix == best && _lastUse[s] < _lastUse[slot]))
                {
                    slot = s;
                    best = prefix;
                }
            }

            _busy[slot] = true;
            _lastUse[slot] = ++_uses;
            try
            {
                stream = new GenerationStream(_generators[slot].Begin(prompt, options, new GenerationResult()), cancellationToken);
            }
            catch
            {
                _busy[slot] = false;
                _free.Release();
                throw;
            }

            _incoming.Add(stream);
            Monitor.Pulse(_lock);
        }

        return stream;
    }

    private void Loop()
    {
        while (true)
        {
            lock (_lock)
            {
                while (!_disposed && _incoming.Count == 0 && _active.Count == 0)
                {
                    Monitor.Wait(_lock);
                }

                if (_disposed)
                {
                    break;
                }

                _active.AddRange(_incoming);
                _incoming.Clear();
            }

            foreach (var stream in _active.ToArray())
            {
                if (stream.StopRequested)
                {
                    Drop(stream, stream.Cancellation.IsCancellationRequested ? new OperationCanceledException(stream.Cancellation) : null);
                }
            }

            Step();
        }

        foreach (var stream in _active.Concat(_incoming))
        {
            stream.Complete(new ObjectDisposedException(nameof(GenerationScheduler)));
        }
    }

    /// <summary>One model step: the next ubatch of the oldest prompt, or one token of every decoding generation; alternating when both wait.</summary>
    private void Step()
    {
        var prompt = _active.FirstOrDefault(s => s.Prompting);
        var decoders = _active.Count(s => !s.Prompting);
        if (prompt is not null && (decoders == 0 || !_lastWasPrompt))
        {
            _lastWasPrompt = true;
            RunPromptUbatch(prompt);
        }
        else if (decoders > 0)
        {
            _lastWasPrompt = false;
            RunDecode();
        }
    }

    private void RunPromptUbatch(GenerationStream stream)
    {
        var sequence = stream.Sequence;
        var n = Math.Min(TransformerModel.UbatchLimit, sequence.Pending.Length - stream.PromptOffset);
        var last = stream.PromptOffset + n == sequence.Pending.Length;
        try
        {
            var logits = _model.ForwardUbatch(sequence.Slot, sequence.Pending.AsSpan(stream.PromptOffset, n), sequence.Start + stream.PromptOffset, last, stream.Cancellation);
            stream.PromptOffset += n;
            if (last)
            {
                logits.CopyTo(sequence.Logits);
                sequence.PromptDone();
                stream.Prompting = false;
                Emit(stream);
            }
        }
#pragma warning disable CA1031 // the generation's reader gets it; the engine goes on with the others
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Drop(stream, ex);
        }
    }

    private void RunDecode()
    {
        // Every decoding generation if they fit in a batch, else the next ones in turn.
        _batch.Clear();
        var decoders = _active.Where(s => !s.Prompting).ToList();
        var rows = Math.Min(decoders.Count, _slots.Length);
        for (var i = 0; i < rows; i++)
        {
            var stream = decoders[(_nextDecoder + i) % decoders.Count];
            _batch.Add(stream);
            _slots[i] = stream.Sequence.Slot;
            _tokens[i] = stream.NextToFeed;
            _positions[i] = stream.Sequence.Position;
        }

        _nextDecoder = (_nextDecoder + rows) % Math.Max(1, decoders.Count);
        try
        {
            var logits = _model.Decode(_slots.AsSpan(0, rows), _tokens.AsSpan(0, rows), _positions.AsSpan(0, rows));
            var vocab = _model.VocabSize;
            for (var i = 0; i < rows; i++)
            {
                logits.Slice(i * vocab, vocab).CopyTo(_batch[i].Sequence.Logits);
            }
        }
#pragma warning disable CA1031 // the generations in the batch get it; the engine goes on with the others
        catch (Exception ex)
#pragma warning restore CA1031
        {
            foreach (var stream in _batch)
            {
                Drop(stream, ex);
            }

            return;
        }

        DecodeTotals = (DecodeTotals.Batches + 1, DecodeTotals.Rows + rows);
        foreach (var stream in _batch)
        {
            stream.Sequence.Fed(stream.NextToFeed);
            Emit(stream);
        }
    }

    /// <summary>Samples the stream's next token from its fresh logits and hands it over; ends the generation when it is done.</summary>
    private void Emit(GenerationStream stream)
    {
        try
        {
            var sequence = stream.Sequence;
            if (sequence.TryNext(out var next))
            {
                stream.Write(next);
                if (sequence.NeedsFeed)
                {
                    stream.NextToFeed = next;
                    return;
                }

                _ = sequence.TryNext(out _); // records the finish reason (the limit)
            }

            Drop(stream, null);
        }
#pragma warning disable CA1031 // a sampler failure ends this generation only
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Drop(stream, ex);
        }
    }

    /// <summary>Ends a generation (finished, cancelled or failed) and frees its slot.</summary>
    private void Drop(GenerationStream stream, Exception? error)
    {
        stream.Sequence.End();
        stream.Complete(error);
        _active.Remove(stream);
        lock (_lock)
        {
            _busy[stream.Sequence.Slot] = false;
        }

        _free.Release();
    }

    /// <summary>Stops the engine thread; generations still running end with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Monitor.Pulse(_lock);
        }

        _thread.Join();
        _free.Dispose();
    }
}

/// <summary>
/// A running generation's tokens as the engine produces them, and its result once complete. Dispose it to stop the
/// generation early (the slot is freed at the engine's next step).
/// </summary>
internal sealed class GenerationStream : IDisposable
{
    private readonly Channel<int> _tokens = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private volatile bool _disposed;

    public GenerationStream(GenerationSequence sequence, CancellationToken cancellation)
    {
        Sequence = sequence;
        Cancellation = cancellation;
    }

    internal GenerationSequence Sequence { get; }

    internal CancellationToken Cancellation { get; }

    /// <summary>Counts and finish reason; complete once <see cref="ReadAllAsync"/> has ended.</summary>
    public GenerationResult Result => Sequence.Result;

    internal bool Prompting { get; set; } = true;

    internal int PromptOffset { get; set; }

    internal int NextToFeed { get; set; }

    internal bool StopRequested => _disposed || Cancellation.IsCancellationRequested;

    private Exception? Error { get; set; }

    /// <summary>The generated ids as they come; throws what ended the generation, if anything did (cancellation included).</summary>
    public async IAsyncEnumerable<int> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var reader = _tokens.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var token))
            {
                // Tokens may be waiting already: a cancelled reader gets none of them.
                cancellationToken.ThrowIfCancellationRequested();
                yield return token;
            }
        }

        if (Error is { } error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    internal void Write(int token) => _tokens.Writer.TryWrite(token);

    internal void Complete(Exception? error)
    {
        Error = error;
        _tokens.Writer.TryComplete();
    }

    public void Dispose() => _disposed = true;
}
