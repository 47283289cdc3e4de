using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Steward.Gateway.Bench;

/// <summary>A gateway started as a child process on a free loopback port, ready once a probe answers; killed on dispose.</summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private GatewayProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public int ProcessId => _process.Id;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts <paramref name="file"/> with <paramref name="arguments"/> (<c>{port}</c> replaced) and waits until <paramref name="probe"/> answers.</summary>
    public static async Task<GatewayProcess> StartAsync(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string probe, string? workingDirectory = null)
    {
        var port = FreePort();
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument.Replace("{port}", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var gateway = new GatewayProcess(Process.Start(info)!, port);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var attempt = 0; attempt < 240 && !gateway._process.HasExited; attempt++)
        {
            try
            {
                using var response = await http.GetAsync(gateway.BaseUrl + probe);
                if ((int)response.StatusCode < 500)
                {
                    return gateway;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(250);
        }

        var output = gateway.Output;
        await gateway.DisposeAsync();
        throw new InvalidOperationException($"{file} never answered {probe}:\n{output}");
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>CPU time the process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>The most memory the process has held resident so far (Linux: its VmHWM).</summary>
    public long PeakWorkingSet
    {
        get
        {
            _process.Refresh();
            return _process.PeakWorkingSet64;
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                // Keep the start and the first errors; a gateway that logs every request must not fill memory.
                if (_output.Length < 64 * 1024)
                {
                    _output.AppendLine(line);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
