"""Keys typed while the app starts, before its first frame (a newcomer pressing `c` the
moment the command is entered): the real app under a pseudo-terminal gets `c` and a few
letters in its input at once; the chat opens with the letters in its input, instead of
them landing on a blank screen that comes before the catalog."""

from __future__ import annotations

import os

from test_app_signals import read_until, start_app_in_pty


def test_c_typed_before_the_first_frame_opens_the_chat_with_the_letters(cli_env):
    app, master = start_app_in_pty(cli_env)
    # Typed at once, before the app has drawn anything (or even set its terminal mode).
    os.write(master, b"cZebra")
    seen = bytearray()
    try:
        # The chat's title names the model; its input holds the letters.
        assert read_until(master, b"Chat \xc2\xb7 ", seen, 120), bytes(seen[-800:])
        assert read_until(master, b"Zebra", seen, 60), bytes(seen[-800:])
        assert b"Traceback" not in seen
    finally:
        app.kill()
        app.wait()
        os.close(master)
