"""Audit plugins: the contract (``base``), the registry, and the built-in plugins."""
