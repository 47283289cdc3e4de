using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI.Evaluation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Steward.Evaluation.Judges;

namespace Steward.Evaluation;

/// <summary>Registers evaluation: the evaluator pipeline as the runner's <see cref="IRunEvaluator"/>, its store and trends query.</summary>
public static class EvaluationServiceCollectionExtensions
{
    /// <summary>Adds evaluation, bound to <c>Steward:Evaluation</c> of <paramref name="stewardSection"/>.</summary>
    public static IServiceCollection AddStewardEvaluation(this IServiceCollection services, IConfiguration stewardSection)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(stewardSection);
        services.AddOptions<EvaluationOptions>().Bind(stewardSection.GetSection("Evaluation")).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EvaluationOptions>, EvaluationOptionsValidator>());
        services.TryAddSingleton<EvaluatorCatalog>();
        services.TryAddSingleton<JudgeClients>();
        services.TryAddSingleton(sp => new JudgeCheck(sp.GetRequiredService<JudgeClients>()));
        services.TryAddSingleton<EvaluationStore>();
        services.TryAddSingleton(sp => new FeedbackStore(
            sp.GetRequiredService<IDbContextFactory<Storage.StewardDbContext>>(), sp.GetRequiredService<Storage.StorageBackend>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new QualityTrends(sp.GetRequiredService<IDbContextFactory<Storage.StewardDbContext>>(), sp.GetRequiredService<Storage.StorageBackend>()));
        services.TryAddSingleton<IRunEvaluator, EvaluationPipeline>();
        services.TryAddSingleton<EvaluationQueue>();
        services.TryAddSingleton(sp => new Batches.EvaluationBatchRunner(
            sp.GetRequiredService<Agents.AgentRunner>(), sp.GetRequiredService<Agents.PresetCatalog>(), sp.GetRequiredService<EvaluationStore>(), sp.GetRequiredService<TimeProvider>()));
        return services;
    }

    /// <summary>
    /// Registers a custom evaluator that presets can list by <paramref name="name"/>. It is created once and shared
    /// by every evaluation, so it must be thread-safe. A registration replaces a configured evaluator of the same name.
    /// </summary>
    public static IServiceCollection AddStewardEvaluator(this IServiceCollection services, string name, Func<IServiceProvider, IEvaluator> create)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        if (EvaluatorCatalog.BuiltInNames.Contains(name))
        {
            throw new ArgumentException($"'{name}' is a built-in evaluator's name; choose another.", nameof(name));
        }

        services.AddSingleton(new EvaluatorRegistration(name, create));
        return services;
    }

    /// <summary>Registers a custom evaluator instance that presets can list by <paramref name="name"/>.</summary>
    public static IServiceCollection AddStewardEvaluator(this IServiceCollection services, string name, IEvaluator evaluator)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        return services.AddStewardEvaluator(name, _ => evaluator);
    }
}
