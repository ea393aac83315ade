"""Where the Hub is and who the user is to it: the endpoint (HF_ENDPOINT) and the token
(HF_TOKEN, HUGGING_FACE_HUB_TOKEN, the token file), read at call time, never at import;
and redact(), which keeps the token out of every message.

Not ``huggingface_hub.get_token``: it reads the token file from ``constants.HF_TOKEN_PATH``,
fixed when huggingface_hub is imported (HF_TOKEN_PATH, HF_HOME or XDG_CACHE_HOME set later
are not seen, and the tests set them per test), it may go to the network (an OIDC exchange
when HF_OIDC_RESOURCE is set, an OAuth refresh of a stored token), and it does not say where
the token came from, which token_source() must. The places looked at are the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.paths import hf_home

DEFAULT_ENDPOINT = "https://huggingface.co"


def hub_endpoint() -> str:
    """The Hub base URL: HF_ENDPOINT, else https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _token_file() -> Path:
    """HF_TOKEN_PATH, else the token file in the Hugging Face home folder."""
    if os.environ.get("HF_TOKEN_PATH"):
        return Path(os.path.expandvars(os.environ["HF_TOKEN_PATH"])).expanduser()
    return hf_home() / "token"


def read_token() -> tuple[str | None, str | None]:
    """(token, where it came from). The same places huggingface_hub looks."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = (os.environ.get(name) or "").strip()
        if value:
            return value, name
    path = _token_file()
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None, None
    return (value, "token file") if value else (None, None)


def token_source() -> str | None:
    """Where the Hugging Face token comes from ("HF_TOKEN", "token file") or None.

    Never the token itself."""
    return read_token()[1]


def redact(text: str, token: str | None = None) -> str:
    """Remove the user's token from a text (exception messages, server answers)."""
    token = token if token is not None else read_token()[0]
    if token and token in text:
        text = text.replace(token, "hf_***")
    return text
