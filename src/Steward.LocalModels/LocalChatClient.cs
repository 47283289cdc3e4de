using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Engine.Generation;
using Steward.LocalModels.Engine.Generation.Constraints;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Templates;
using Steward.LocalModels.Tokenization;
using Steward.LocalModels.Tools;

namespace Steward.LocalModels;

/// <summary>
/// An <see cref="IChatClient"/> that runs a GGUF model (llama, qwen2, qwen3 or phi3 architecture) in-process on the CPU,
/// reproducing llama.cpp's CPU arithmetic (greedy output matches llama.cpp token for token).
/// The conversation is rendered with the model's own chat template (the GGUF's Jinja <c>tokenizer.chat_template</c>,
/// interpreted as Hugging Face renders it), tokenized, and generated token by token; text is streamed as it decodes
/// (multi-byte characters are never split). Usage reports the exact prompt and generated token counts.
/// </summary>
/// <remarks>
/// Thread safety: the client may be shared. Up to <see cref="LocalModelOptions.ParallelRequests"/> calls generate at
/// once over the one loaded model, each in its own slot (its own KV cache region, reused for a prompt that starts the
/// way the slot's last conversation did); their tokens are decoded together in one batch per step, and each call's
/// output is what it would be alone. Further calls wait for a free slot in arrival order. Cancelling a call ends that
/// call only. Dispose only when no call is in flight.
/// ChatOptions honoured: MaxOutputTokens, Temperature (0 = greedy), TopP, TopK, Seed, StopSequences, Instructions,
/// Tools (function declarations, rendered through the template, or a Hermes-style system block when the template has
/// no tool support; calls in the answer come back as <see cref="FunctionCallContent"/>; <see cref="ChatToolMode.None"/>
/// offers none; hosted tools are not offered), ResponseFormat (JSON and JSON schema, enforced by constrained
/// sampling: the answer always parses and validates, stop sequences are not applied, and no tool calls are read), and
/// AdditionalProperties <c>min_p</c>, <c>repetition_penalty</c>, <c>raw</c> (true: no template, the message text is
/// the prompt, BOS prepended). A template Steward cannot interpret throws <see cref="ChatTemplateException"/>.
/// </remarks>
public sealed class LocalChatClient : IChatClient
{
    private readonly GgufFile _file;
    private readonly TransformerModel _model;
    private readonly GenerationScheduler _scheduler;
    private readonly ITextTokenizer _tokenizer;
    private readonly ChatTemplate _template;
    private readonly HashSet<int> _stopTokens;
    private readonly Lazy<TokenVocabulary> _vocabulary;
    private readonly ChatClientMetadata _metadata;
    private bool _disposed;

    private LocalChatClient(GgufFile file, TransformerModel model, ITextTokenizer tokenizer, ChatTemplate template)
    {
        _file = file;
        _model = model;
        _scheduler = new GenerationScheduler(model);
        _tokenizer = tokenizer;
        _template = template;
        _vocabulary = new(() => TokenVocabulary.Build(tokenizer));
        ModelId = Path.GetFileNameWithoutExtension(file.Path);
        _metadata = new ChatClientMetadata("steward-local", null, ModelId);
        _stopTokens = [];
        for (var id = 0; id < tokenizer.VocabularySize; id++)
        {
            if (tokenizer.IsEndOfGeneration(id))
            {
                _stopTokens.Add(id);
            }
        }

        foreach (var text in template.EndOfTurnTokens)
        {
            if (tokenizer.FindToken(text) is { } id)
            {
                _stopTokens.Add(id);
            }
        }
    }

    /// <summary>The model file name without extension.</summary>
    public string ModelId { get; }

    /// <summary>
    /// The context window in effect: the model's, capped by <see cref="LocalModelOptions.ContextLength"/>, and capped
    /// again when the KV cache would not fit in memory (see <see cref="ContextLimitReason"/>).
    /// </summary>
    public int ContextLength => _model.ContextLength;

    /// <summary>Decode steps so far, and the tokens they decoded (more tokens than steps: calls decoded together).</summary>
    internal (long Batches, long Rows) DecodeTotals => _scheduler.DecodeTotals;

    /// <summary>Why <see cref="ContextLength"/> was capped below the model's and the options' limit to fit in memory, or null.</summary>
    public string? ContextLimitReason => _model.ContextLimitReason;

    /// <summary>
    /// Opens and loads <paramref name="modelPath"/> (memory-mapped; weights are not copied). <see cref="LocalModelOptions.ModelPath"/>
    /// is ignored here; the other options apply (defaults when null).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="GgufFormatException">The file is not a usable GGUF model (format, architecture, missing tensors).</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static LocalChatClient Load(string modelPath, LocalModelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        options ??= new LocalModelOptions();
        if (options.Threads is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "LocalModelOptions.Threads must be at least 1.");
        }

        if (options.ContextLength is < 16)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ContextLength, "LocalModelOptions.ContextLength must be at least 16.");
        }

        if (options.BatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "LocalModelOptions.BatchSize must be at least 1.");
        }

        if (options.ParallelRequests is < 1 or > LocalModelOptions.MaxParallelRequests)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ParallelRequests, $"LocalModelOptions.ParallelRequests must be between 1 and {LocalModelOptions.MaxParallelRequests}.");
        }

        var file = GgufFile.Open(modelPath, options.ResidentWeights);
        TransformerModel? model = null;
        try
        {
            model = new TransformerModel(file, new EngineOptions
            {
                Threads = options.Threads ?? Environment.ProcessorCount,
                ContextLength = options.ContextLength,
                BatchSize = Math.Max(options.BatchSize, options.ParallelRequests),
                Slots = options.ParallelRequests,
            });
            var spec = TokenizerSpec.FromGguf(file);
            var tokenizer = TextTokenizer.Create(spec);
            var template = ChatTemplate.ForModel(spec);
            return new LocalChatClient(file, model, tokenizer, template);
        }
        catch
        {
            model?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder();
        var calls = new List<AIContent>();
        ChatResponseUpdate? last = null;
        UsageDetails? usage = null;
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            text.Append(update.Text);
            calls.AddRange(update.Contents.OfType<FunctionCallContent>());
            usage = update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details ?? usage;
            last = update;
        }

        List<AIContent> contents = text.Length > 0 || calls.Count == 0 ? [new TextContent(text.ToString()), .. calls] : calls;
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, contents) { MessageId = last?.MessageId })
        {
            ModelId = ModelId,
            ResponseId = last?.ResponseId,
            CreatedAt = last?.CreatedAt,
            FinishReason = last?.FinishReason,
            Usage = usage,
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (prompt, stopSequences) = BuildPrompt(messages.ToList(), options);
        var constraint = ResponseFormatConstraint.Create(options?.ResponseFormat, _vocabulary, _stopTokens, options?.MaxOutputTokens ?? (ContextLength - prompt.Length));
        if (constraint is not null)
        {
            // A stop sequence inside the JSON would cut it; the constraint decides where the output ends.
            stopSequences.Clear();
        }

        // Tool calls are read from the answer when tools are offered (and no response format fixes its shape).
        var toolCalls = constraint is null ? ToolCallStream.Create(options, _tokenizer) : null;
        var generation = new GenerationOptions
        {
            MaxTokens = options?.MaxOutputTokens,
            Sampling = ToSampling(options),
            StopTokens = _stopTokens,
            Constraint = constraint,
        };
        var responseId = Guid.NewGuid().ToString("N");
        var messageId = Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;

        using (var stream = await _scheduler.StartAsync(prompt, generation, cancellationToken).ConfigureAwait(false))
        {
            var result = stream.Result;
            var decoder = _tokenizer.CreateStreamDecoder();
            var all = new StringBuilder();
            var emitted = 0;
            var generated = 0;
            var stoppedBySequence = false;
            await foreach (var token in stream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                generated++;
                toolCalls?.OnToken(token);
                all.Append(decoder.Append(token));
                var (safe, stopAt) = ScanStops(all, emitted, stopSequences);
                var end = stopAt ?? safe;
                if (end > emitted)
                {
                    foreach (var update in Updates(all.ToString(emitted, end - emitted)))
                    {
                        yield return update;
                    }

                    emitted = end;
                }

                if (stopAt is not null)
                {
                    stoppedBySequence = true;
                    break;
                }
            }

            if (!stoppedBySequence)
            {
                all.Append(decoder.Flush());
                var (_, stopAt) = ScanStops(all, emitted, stopSequences);
                var end = stopAt ?? all.Length;
                if (end > emitted)
                {
                    foreach (var update in Updates(all.ToString(emitted, end - emitted)))
                    {
                        yield return update;
                    }
                }
            }

            foreach (var content in toolCalls?.Finish() ?? [])
            {
                yield return ContentUpdate(content);
            }

            // The engine may have run ahead of a stop sequence: the tokens read are the ones generated for this response.
            var finish = toolCalls is { HasCalls: true } ? ChatFinishReason.ToolCalls
                : stoppedBySequence || result.Finish == GenerationFinish.StopToken ? ChatFinishReason.Stop : ChatFinishReason.Length;
            var usage = new UsageDetails
            {
                InputTokenCount = result.PromptTokens,
                OutputTokenCount = generated,
                TotalTokenCount = result.PromptTokens + generated,
            };
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(usage)])
            {
                ResponseId = responseId,
                MessageId = messageId,
                ModelId = ModelId,
                CreatedAt = created,
                FinishReason = finish,
            };
        }

        IEnumerable<ChatResponseUpdate> Updates(string text) =>
            toolCalls is null ? [ContentUpdate(new TextContent(text))] : toolCalls.Append(text).Select(ContentUpdate);

        ChatResponseUpdate ContentUpdate(AIContent content) => new(ChatRole.Assistant, [content])
        {
            ResponseId = responseId,
            MessageId = messageId,
            ModelId = ModelId,
            CreatedAt = created,
        };
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(ChatClientMetadata))
        {
            return _metadata;
        }

        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>
    /// The exact number of prompt tokens <paramref name="messages"/> would take, rendered with the model's chat template
    /// and tokenized as a generation would (what budgets reserve before the call). Thread-safe; no generation is run.
    /// </summary>
    public int CountPromptTokens(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return BuildPrompt(messages.ToList(), options).Prompt.Length;
    }

    /// <summary>
    /// How many tokens <paramref name="text"/> is on its own (no template, no BOS): what a partial answer cut off by a
    /// cancel used. Thread-safe.
    /// </summary>
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return text.Length == 0 ? 0 : _tokenizer.Encode(text, addBos: false, parseSpecialTokens: false).Count;
    }

    /// <summary>Frees the model's native buffers and unmaps the file. Not to be called while a generation runs.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _scheduler.Dispose();
        _model.Dispose();
        _file.Dispose();
    }

    private (int[] Prompt, List<string> StopSequences) BuildPrompt(List<ChatMessage> messages, ChatOptions? options)
    {
        var stops = options?.StopSequences?.Where(s => !string.IsNullOrEmpty(s)).ToList() ?? [];
        if (options?.Instructions is { Length: > 0 } instructions)
        {
            messages.Insert(0, new ChatMessage(ChatRole.System, instructions));
        }

        IReadOnlyList<int> ids;
        if (IsRaw(options))
        {
            var text = string.Concat(messages.Select(m => m.Text));
            ids = _tokenizer.Encode(text, addBos: _tokenizer.BosId is not null, parseSpecialTokens: true);
        }
        else
        {
            ids = _template.EncodePrompt(_tokenizer, messages, ToolDefinitions.Offered(options), addGenerationPrompt: true);
            stops.AddRange(_template.StopSequences);
        }

        if (ids.Count == 0)
        {
            throw new ArgumentException("The conversation renders to an empty prompt.", nameof(messages));
        }

        return ([.. ids], stops);
    }

    /// <summary>
    /// Where text may be emitted up to: the first stop sequence found (stopAt), or else the end minus any suffix
    /// that could still grow into a stop sequence (safe).
    /// </summary>
    private static (int Safe, int? StopAt) ScanStops(StringBuilder all, int emitted, List<string> stops)
    {
        if (stops.Count == 0)
        {
            return (all.Length, null);
        }

        var text = all.ToString();
        int? stopAt = null;
        var holdBack = 0;
        foreach (var stop in stops)
        {
            var from = Math.Max(0, emitted - stop.Length + 1);
            var index = text.IndexOf(stop, from, StringComparison.Ordinal);
            if (index >= 0 && (stopAt is null || index < stopAt))
            {
                stopAt = index;
            }

            for (var len = Math.Min(stop.Length - 1, text.Length); len > 0; len--)
            {
                if (text.AsSpan(text.Length - len).SequenceEqual(stop.AsSpan(0, len)))
                {
                    holdBack = Math.Max(holdBack, len);
                    break;
                }
            }
        }

        return (Math.Max(emitted, text.Length - holdBack), stopAt is { } s ? Math.Max(s, emitted) : null);
    }

    private static bool IsRaw(ChatOptions? options) =>
        options?.AdditionalProperties is { } props && props.TryGetValue("raw", out var raw) && raw switch
        {
            bool b => b,
            string s => bool.TryParse(s, out var b) && b,
            JsonElement { ValueKind: JsonValueKind.True } => true,
            _ => false,
        };

    private static SamplingOptions ToSampling(ChatOptions? options)
    {
        if (options is null)
        {
            return new SamplingOptions();
        }

        var defaults = new SamplingOptions();
        return new SamplingOptions
        {
            Temperature = options.Temperature ?? defaults.Temperature,
            TopP = options.TopP ?? defaults.TopP,
            TopK = options.TopK ?? defaults.TopK,
            Seed = options.Seed,
            MinP = GetSingle(options, "min_p") ?? defaults.MinP,
            RepetitionPenalty = GetSingle(options, "repetition_penalty") ?? defaults.RepetitionPenalty,
        };
    }

    private static float? GetSingle(ChatOptions options, string key)
    {
        if (options.AdditionalProperties is null || !options.AdditionalProperties.TryGetValue(key, out var value) || value is null)
        {
            return null;
        }

        return value switch
        {
            float f => f,
            double d => (float)d,
            int i => i,
            long l => l,
            decimal m => (float)m,
            string s when float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) => f,
            JsonElement { ValueKind: JsonValueKind.Number } e => e.GetSingle(),
            _ => throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{key}\"] must be a number, not {value.GetType().Name}.", nameof(options)),
        };
    }
}
