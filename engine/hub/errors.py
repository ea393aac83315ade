"""The Hub's errors: each one message that says what to do next (engine.hub.downloads maps the
classes to the kind a download failure shows).

They are not also huggingface_hub's classes (``RepositoryNotFoundError``, ``GatedRepoError``,
``RevisionNotFoundError``...): those are ``HfHubHTTPError``s whose constructor requires the
HTTP response object of huggingface_hub's own client (``requests`` in 0.x, ``httpx`` since
1.0), which our standard-library requests do not have, and whose bases change between the
versions we accept (``EntryNotFoundError`` is an HTTP error in 0.x, a plain Exception in 2.x);
defining ours on them would also import huggingface_hub and its HTTP client (about 0.1 s)
whenever the app starts. ``OfflineModeIsEnabled`` is the one plain class, and it alone would
bring the same import for a message we already give.
"""

from __future__ import annotations

from engine.errors import SmollmError, UsageError
from engine.hub.environment import redact


class HubError(SmollmError):
    """A download or Hub problem, as one message that says what to do next. The message
    never holds the user's token: a hostile server may echo it back in anything it sends
    (a commit, a file name, an error text), and messages quote what servers send."""

    def __init__(self, message: object = "", *args: object):
        super().__init__(redact(str(message)), *args)


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
