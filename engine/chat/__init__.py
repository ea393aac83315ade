"""Conversations with loaded models: a reply streamed on the runtime that loaded the
model, in the worker or in-process (stream), the Arena's plain parts, two models
side by side (arena), and transcripts saved as Markdown and JSON (transcripts).

Every importer names the submodule it needs; this file imports nothing, so importing
one module of the package never imports the others.
"""
