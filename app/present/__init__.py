"""Qt-free wording shared by the CLI and the windows: states, times, errors."""
