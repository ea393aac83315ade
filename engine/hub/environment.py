"""Where the Hub is and who the user is to it: the endpoint (HF_ENDPOINT) and the token
(HF_TOKEN, HUGGING_FACE_HUB_TOKEN, the token file), read at call time, never at import;
and redact(), which keeps the token out of every message."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ENDPOINT = "https://huggingface.co"


def hub_endpoint() -> str:
    """The Hub base URL: HF_ENDPOINT, else https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline_mode() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in ("1", "ON", "YES", "TRUE")


def _token_file() -> Path:
    if os.environ.get("HF_TOKEN_PATH"):
        return Path(os.path.expandvars(os.environ["HF_TOKEN_PATH"])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "token"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "token"


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
