"""The `testbed` command line: one module per command group, each with `register(app)`; shared options and exit codes."""
