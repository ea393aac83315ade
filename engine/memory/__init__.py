"""Whether a model fits this machine's memory (fit: a runtime's estimate or a measured
run against the budget), and the catalog's row of live facts per model built on it
(overview). Above the runtimes and the results, which it reads.

Every importer names the submodule it needs; this file imports nothing, so importing
one module of the package never imports the others.
"""
