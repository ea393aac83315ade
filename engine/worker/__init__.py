"""The process boundary: models live in a worker process; the UI and CLI talk to a client."""
