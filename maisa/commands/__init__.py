"""One module per CLI command (or command group); `maisa.cli` loads them lazily."""
