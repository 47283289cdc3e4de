return await Steward.Cli.CliApp.RunAsync(args).ConfigureAwait(false);
