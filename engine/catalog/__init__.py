"""The model catalog: its entries (the shipped catalog.toml plus the user's overlay,
validated), the checks on each entry, and the bundled model's file. The bottom
package: it imports only the modules at engine/'s root.

Every importer names the submodule it needs; this file imports nothing, so importing
one module of the package never imports the others.
"""
