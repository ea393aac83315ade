"""A repo's file list at a revision, from the Hub's ``/api/models/<repo>/revision/<rev>``,
with every name that becomes a path checked (engine.hub_names), and the check of a revision
a user or a catalog overlay names.

Not ``HfApi.model_info(files_metadata=True)``, though it asks the same endpoint: it reads
the whole answer with no size limit, has no deadline over the whole request (DNS included),
and builds its file list before we could check it, so a hostile answer (an entry that is not
a file, an LFS entry without a pointer size) fails inside huggingface_hub with a TypeError or
KeyError instead of our one message naming the bad field; it also reads HF_HUB_OFFLINE once,
at import. The checks are the point of this module, so the request stays ours.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
from dataclasses import dataclass

from engine.errors import UsageError
from engine.hub.connection import http_error, open_url, shown, unreachable, with_deadline
from engine.hub.environment import hub_endpoint, read_token
from engine.hub.errors import DownloadError, HubOfflineError, InvalidHubAnswer
from engine.hub.files import RepoFile
from engine.hub_names import file_name_problem, is_blob_id, is_commit, revision_problem
from engine.paths import offline_forced
from engine.units import format_bytes

LISTING_DEADLINE_S = 10.0  # the whole file-list request, DNS included
MAX_LISTING_BYTES = 32 * 2**20  # a file list this long is no Hub's answer


@dataclass(frozen=True)
class RepoListing:
    repo: str
    revision: str
    commit: str
    files: tuple[RepoFile, ...]
    gated: bool = False
    private: bool = False


def fetch_listing(repo: str, revision: str = "main") -> RepoListing:
    """The repo's files (with sizes and blob ids) and commit at `revision`, from the Hub."""
    if offline_forced():
        raise HubOfflineError(
            "HF_HUB_OFFLINE is set, so nothing can be downloaded; unset it "
            "to download, or use models already on disk"
        )
    token = read_token()[0]
    url = (
        f"{hub_endpoint()}/api/models/{repo}/revision/"
        f"{urllib.parse.quote(revision, safe='')}?blobs=true"
    )

    def get() -> object:
        try:
            with open_url(url, token) as response:
                body = response.read(MAX_LISTING_BYTES + 1)
                if len(body) > MAX_LISTING_BYTES:
                    raise InvalidHubAnswer(
                        f"the Hub's file list for {repo} is over "
                        f"{format_bytes(MAX_LISTING_BYTES)}; refused"
                    )
                return json.loads(body.decode("utf-8"))
        except urllib.error.HTTPError as exc:
            exc.close()
            raise http_error(exc, repo, revision, bool(token)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise unreachable(exc) from None
        except ValueError as exc:  # UnicodeDecodeError too
            raise DownloadError(
                f"the Hub's answer for {repo} is not valid JSON ({exc}); is HF_ENDPOINT a Hub?"
            ) from None

    data = with_deadline(get, LISTING_DEADLINE_S)
    return _parse_listing(data, repo, revision)


def _parse_listing(data: object, repo: str, revision: str) -> RepoListing:
    """The listing, with every name that becomes a path checked (see engine.hub_names)."""
    if not isinstance(data, dict):
        raise DownloadError(
            f"the Hub's answer for {repo} is not a file list; is HF_ENDPOINT a Hub?"
        )
    commit = data.get("sha")
    if not commit:
        raise DownloadError(
            f"the Hub's answer for {repo} has no commit hash; is HF_ENDPOINT a Hub?"
        )
    if not is_commit(commit):
        raise InvalidHubAnswer(
            f"the Hub answered with an invalid commit hash for {repo} "
            f"({shown(commit)}: not 40 hex characters); nothing was "
            "written. Is HF_ENDPOINT a Hub you trust?"
        )
    siblings = data.get("siblings") or []
    if not isinstance(siblings, list):
        raise DownloadError(f"the Hub's file list for {repo} is not a list")
    files = []
    for sibling in siblings:
        if not isinstance(sibling, dict):
            raise DownloadError(f"the Hub's file list for {repo} has an entry that is not a file")
        name = sibling.get("rfilename")
        problem = file_name_problem(name)
        if problem:
            raise InvalidHubAnswer(
                f"the Hub answered with an invalid file name for {repo}: "
                f"{shown(name)} ({problem}); nothing was written. Is "
                "HF_ENDPOINT a Hub you trust?"
            )
        lfs = sibling.get("lfs") or {}
        if not isinstance(lfs, dict):
            lfs = {}
        blob = lfs.get("sha256") or lfs.get("oid") or sibling.get("blobId")
        size = lfs.get("size", sibling.get("size"))
        if blob is None or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise DownloadError(f"the Hub's file list for {repo} lacks sizes or ids")
        if not is_blob_id(blob):
            raise InvalidHubAnswer(
                f"the Hub answered with an invalid file id for {name} of "
                f"{repo}: {shown(blob)} (not 40 or 64 hex characters); "
                "nothing was written. Is HF_ENDPOINT a Hub you trust?"
            )
        files.append(RepoFile(str(name), size, blob, bool(lfs)))  # checked: a str
    return RepoListing(
        repo,
        revision,
        commit,
        tuple(files),
        gated=bool(data.get("gated")),
        private=bool(data.get("private")),
    )


def check_revision(revision: str) -> str:
    """The revision a user or a catalog overlay asked for, if it is a usable name."""
    problem = revision_problem(revision)
    if problem:
        raise UsageError(
            f"invalid revision {shown(revision)}: {problem}. Give a branch, "
            "tag or commit hash, such as main or a 40-character commit"
        )
    return revision
