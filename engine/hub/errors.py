"""The Hub's errors: each one message that says what to do next (engine.downloads maps the
classes to the kind a download failure shows)."""

from __future__ import annotations

from engine.errors import SmollmError, UsageError


class HubError(SmollmError):
    """A download or Hub problem, as one message that says what to do next."""


class HubUnreachableError(HubError):
    pass


class HubOfflineError(HubError):
    pass


class RepoNotFoundError(HubError):
    pass


class GatedRepoError(HubError):
    pass


class DiskSpaceError(HubError):
    pass


class DownloadError(HubError):
    pass


class InvalidHubAnswer(DownloadError):
    """The Hub's answer would put a file outside the model's folder, or fails its own
    checksum: nothing of it is written."""


class NotOnHubError(UsageError):
    """The catalog entry is not a Hub model (bundled, local or unavailable)."""
