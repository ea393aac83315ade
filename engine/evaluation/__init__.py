"""lm-eval tasks on a loaded model: the task registry (light) and the runner (heavy).

Import ``engine.evaluation.runner`` only where torch may be loaded (the worker, tests);
``engine.evaluation.tasks`` is safe for the UI.
"""
