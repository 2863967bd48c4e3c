"""The audit families, one package each (params, computation, findings, plugin); they never import each other."""
