"""SIGTERM or SIGHUP to the running app (`kill`, a closed terminal window) ends it as q
does, and the terminal is given back: the real app runs under a pseudo-terminal, and the
bytes it writes after the signal leave the alternate screen, stop mouse tracking and show
the cursor again."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

LEAVE_ALTERNATE_SCREEN = b"\x1b[?1049l"
SHOW_CURSOR = b"\x1b[?25h"
MOUSE_OFF = b"\x1b[?1000l"


def read_until(fd: int, wanted: bytes, seen: bytearray, within_s: float) -> bool:
    """Read the terminal into ``seen`` until ``wanted`` is in it (True), the app closes it
    or the deadline passes (False). A bounded wait on the event itself."""
    deadline = time.monotonic() + within_s
    while wanted not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer of the terminal is gone
            return wanted in seen
        if not chunk:
            return wanted in seen
        seen += chunk
    return True


def start_app_in_pty(cli_env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """The real app on a 100x30 pseudo-terminal of its own; the process and the terminal's
    master side (what the app writes is read there, what is written there is typed)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**cli_env, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    app = subprocess.Popen(
        [sys.executable, "-m", "tui.cli"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    return app, master


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_ends_the_app_and_gives_the_terminal_back(cli_env, number):
    app, master = start_app_in_pty(cli_env)
    seen = bytearray()
    try:
        # The catalog drawn (its title): the app is running in the alternate screen.
        assert read_until(master, b"smollm-tui", seen, 120), bytes(seen[-500:])
        assert b"\x1b[?1049h" in seen
        before = len(seen)
        app.send_signal(number)
        read_until(master, b"\x00never\x00", seen, 60)  # until the app closes the terminal
        assert app.wait(timeout=60) == 128 + number
        after = bytes(seen[before:])
        assert LEAVE_ALTERNATE_SCREEN in after and SHOW_CURSOR in after and MOUSE_OFF in after
        assert b"Traceback" not in seen
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        os.close(master)
