"""Errors a user can cause or fix. Each carries one message that says what to do next."""

from __future__ import annotations


class SmollmError(Exception):
    """Base of every error shown to the user as one message (no traceback without --debug)."""

    exit_code = 1


class UsageError(SmollmError):
    """Bad input from the user: an unknown model, an invalid setting, a missing file."""

    exit_code = 2
