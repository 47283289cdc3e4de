using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Steward.Storage;

namespace Steward.Web.Hosting;

/// <summary>
/// The data-protection key ring in Steward's database (<see cref="DataProtectionKeyStore"/>): every instance on the same
/// database reads and adds the same keys, so a Blazor circuit, an antiforgery token or a sign-in cookie made by one
/// instance is read by any other behind the load balancer.
/// </summary>
internal sealed class DatabaseKeyRepository(DataProtectionKeyStore store) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements() => [.. store.ReadAll().Select(XElement.Parse)];

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        store.Add(friendlyName, element.ToString(SaveOptions.DisableFormatting));
    }
}

internal static class DataProtectionSetup
{
    /// <summary>The application name every instance shares: keys are isolated per application name, not per machine.</summary>
    public const string ApplicationName = "Steward";

    /// <summary>Keeps the data-protection keys in the database, under one application name for every instance.</summary>
    public static IServiceCollection AddStewardDataProtection(this IServiceCollection services)
    {
        services.AddDataProtection().SetApplicationName(ApplicationName);
        services.AddOptions<KeyManagementOptions>().Configure<DataProtectionKeyStore>((options, store) => options.XmlRepository = new DatabaseKeyRepository(store));
        return services;
    }
}
