"""HTTP to the Hub with the standard library: a GET that follows redirects by hand (the
token never goes to another host, and nothing but http(s) is followed), the Hub's error
answers turned into our errors, and a deadline for a whole request, DNS included."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from engine import __version__
from engine.hub.environment import hub_endpoint, redact
from engine.hub.errors import (
    DownloadError,
    GatedRepoError,
    HubError,
    HubUnreachableError,
    InvalidHubAnswer,
    RepoNotFoundError,
)

TIMEOUT_S = 8.0  # socket timeout: connect and every read


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by hand so the token is never sent to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())
_REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
# What http.client refuses in a request line (InvalidURL), and what it cannot encode.
_BAD_URL = re.compile(r"[\x00-\x20\x7f]|[^\x00-\x7f]")


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def open_url(url: str, token: str | None, headers: dict[str, str] | None = None):
    """GET url, following up to MAX_REDIRECTS redirects; Authorization only goes to the
    Hub's origin."""
    hub_origin = _origin(hub_endpoint())
    for _ in range(MAX_REDIRECTS + 1):
        request = urllib.request.Request(url, headers=dict(headers or {}))
        request.add_header("User-Agent", f"smollm-tui/{__version__}")
        request.add_header("Accept-Encoding", "identity")
        if token and _origin(url) == hub_origin:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            return _OPENER.open(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            if exc.code not in _REDIRECTS or not exc.headers.get("Location"):
                raise
            url = urllib.parse.urljoin(url, exc.headers["Location"])
            exc.close()
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise InvalidHubAnswer(
                    f"the Hub redirected to a non-HTTP address ({shown(url)}); refused"
                ) from None
            if _BAD_URL.search(url):
                raise InvalidHubAnswer(
                    f"the Hub redirected to an invalid address ({shown(url)}: spaces, "
                    "control or non-ASCII characters); refused. Is HF_ENDPOINT a Hub?"
                ) from None
    raise DownloadError(
        f"more than {MAX_REDIRECTS} redirects while fetching {shown(url)}; refused. "
        "Is HF_ENDPOINT a Hub?"
    )


def unreachable(reason: object) -> HubUnreachableError:
    text = getattr(reason, "reason", reason)
    return HubUnreachableError(
        f"cannot reach the Hugging Face Hub at {hub_endpoint()} ({redact(str(text))}). "
        "Check the network (or HF_ENDPOINT and proxy settings) and try again; models "
        "already on disk keep working."
    )


def http_error(
    exc: urllib.error.HTTPError, repo: str, revision: str, has_token: bool, what: str = ""
) -> HubError:
    """The Hub's error answer (its status and X-Error-Code) as one of our errors."""
    code = exc.code
    error_code = exc.headers.get("X-Error-Code", "")
    page = f"{hub_endpoint()}/{repo}"
    if error_code == "GatedRepo" or (code == 403 and error_code != "RepoNotFound"):
        if has_token:
            return GatedRepoError(
                f"{repo} is gated and your Hugging Face token has no access to it: accept "
                f"its conditions at {page} with the account the token belongs to"
            )
        return GatedRepoError(
            f"{repo} is gated: accept its conditions at {page}, then make a token "
            "available (set HF_TOKEN, or run `hf auth login`)"
        )
    if error_code == "RevisionNotFound":
        return RepoNotFoundError(f"revision '{revision}' of {repo} was not found on the Hub")
    if error_code == "EntryNotFound":
        return DownloadError(
            f"{what or 'a file'} of {repo} is no longer on the Hub at revision '{revision}'"
        )
    if code in (401, 404) and not error_code:
        # A proxy or captive portal, not the Hub: the Hub always says what went wrong.
        return DownloadError(
            f"{hub_endpoint()} answered {code} for {repo} without the Hub's error details; "
            "check HF_ENDPOINT and proxy settings (or the network's login page)"
        )
    if code in (401, 404) or error_code == "RepoNotFound":
        hint = (
            "; if it is private or gated, check that your token can see it"
            if has_token
            else "; if it is private, set HF_TOKEN (or run `hf auth login`)"
        )
        return RepoNotFoundError(f"{repo} was not found on {hub_endpoint()}{hint}")
    if code == 429:
        return DownloadError("the Hub is rate-limiting requests; wait a minute and try again")
    if code >= 500:
        return DownloadError(f"the Hub answered {code} for {repo}; try again later")
    return DownloadError(f"the Hub answered {code} {redact(str(exc.reason))} for {what or repo}")


def with_deadline(fn: Callable[[], Any], seconds: float) -> Any:
    """Run fn in a helper thread and give up after `seconds` (DNS lookups ignore socket
    timeouts; a stuck lookup must not keep the user waiting)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, daemon=True, name="hub-listing").start()
    if not done.wait(seconds):
        raise unreachable(f"no answer within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def shown(value: object, limit: int = 80) -> str:
    """A value from outside, quoted on one line with control characters escaped and the
    token taken out (before the cut: a cut token would no longer be found)."""
    text = redact(repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
