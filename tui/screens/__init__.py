"""The app's screens: catalog (home), chat, evaluate, compare, system, help."""
