"""Results: the SQLite store, reference figures, comparison matrices, reports, imports.

Nothing here imports torch or lm_eval: the UI uses these modules directly.
"""
