"""Models from the Hugging Face Hub: their files listed, chosen, downloaded into the
standard Hugging Face cache (resumable, cancellable, checked), and deleted from it.

The modules, from the bottom up:

- errors: the Hub's errors, each one message that says what to do next;
- environment: the endpoint and the token (read at call time, never at import), redact();
- cache: a repo's place in the cache and its layout (the one huggingface_hub uses);
- files: a repo's file (RepoFile) and the choice of what a model needs (choose_files);
- connection: GET with redirects followed by hand, the Hub's error answers, a deadline;
- listing: a repo's file list at a revision, every name in it checked;
- progress: bytes, speed and time left of a download;
- transfer: download() and download_gguf().

Deleting is engine.hub.deletion; what is on disk for a model (bundled, local or in the cache)
is engine.models.local_status. Everything here reads the environment at call time (HF_ENDPOINT,
HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE), never at import.

huggingface_hub is used where it does the job as we need it: ``hf_hub_url`` builds a
file's address (transfer). Where it does not, the module says why: the transfer (no
resume, no cancel mid-file), the token (get_token: environment), the file list
(model_info: listing), the error classes (errors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.hub.cache import repo_folder
from engine.hub.environment import hub_endpoint, redact, token_source
from engine.hub.errors import (
    DiskSpaceError,
    DownloadError,
    GatedRepoError,
    HubError,
    HubOfflineError,
    HubUnreachableError,
    InvalidHubAnswer,
    NotOnHubError,
    RepoNotFoundError,
)
from engine.hub.files import FilePlan, RepoFile, choose_files
from engine.hub.listing import RepoListing, check_revision, fetch_listing
from engine.hub.progress import ProgressCallback
from engine.hub.transfer import DownloadResult, download, download_gguf

if TYPE_CHECKING:
    from engine.catalog.entries import ModelEntry

__all__ = [
    "DiskSpaceError",
    "DownloadError",
    "DownloadResult",
    "FilePlan",
    "GatedRepoError",
    "HubError",
    "HubOfflineError",
    "HubUnreachableError",
    "InvalidHubAnswer",
    "NotOnHubError",
    "ProgressCallback",
    "RepoFile",
    "RepoListing",
    "RepoNotFoundError",
    "check_revision",
    "choose_files",
    "delete",
    "download",
    "download_gguf",
    "fetch_listing",
    "hub_endpoint",
    "redact",
    "repo_folder",
    "token_source",
]


def delete(entry: ModelEntry, quant: str | None = None) -> int:
    """Remove the model's repo from the Hugging Face cache, and the files of its GGUF build
    (or, with ``quant``, that one GGUF file only); returns the bytes freed. What it removes:
    engine.hub.deletion.deletion_plan."""
    from engine.hub.deletion import delete as delete_files

    return delete_files(entry, quant)
