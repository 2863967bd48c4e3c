"""The robustness family: its parameters and figure names (``params``), the plugin (``plugin``), recipes as
data (``recipe_spec``), offline embeddings (``embeddings``), domain-aware constraints (``constraints``), a fast
victim model (``victim``), TextAttack attack building (``recipes``), worker processes (``workers``, set up by
``worker_setup``), one run (``attack``) and reading the outcomes (``outcomes``).

Only ``params``, ``plugin``, ``recipe_spec`` and ``worker_setup`` are light; the other modules import TextAttack,
so import them after ``fmaudit.core.offline.prepare_textattack``.
"""
