"""A catalog model on this machine: what is on disk for it, read without the network
(local_status), and the remembered consent to run its own code (consent). Above
engine.hub, whose cache it reads, below the runtimes.

Every importer names the submodule it needs; this file imports nothing, so importing
one module of the package never imports the others.
"""
