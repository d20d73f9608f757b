"""``python -m llm_fallback``: the command line, one module per command group."""
