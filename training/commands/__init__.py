"""One module per CLI command group; each is a thin call into ``engine/`` or ``training/``."""
