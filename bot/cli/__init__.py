"""Command-line subcommands of `python -m bot` that need no server: `check`."""
