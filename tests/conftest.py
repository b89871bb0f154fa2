"""Shared fixtures: a private headless PulseAudio server with `earbud` and `room` null sinks.

`pulse` (per test) gives a running server with both sinks present (an earlier test may have
removed one) and nothing else playing; `pulse_server` is the session-wide daemon behind it.
When PulseAudio cannot start, tests that use it are skipped with the reason, unless
VOICE_GUIDE_REQUIRE_AUDIO=1 (for CI), which turns that into a failure.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# the machine user's own config file must not change what the tests run (tests of the config
# file remove this and give a config home of their own)
os.environ.setdefault("VOICE_GUIDE_CONFIG", "none")
# Ctrl-C tests send SIGINT to `voice-guide` processes. A suite started in the background by a
# non-interactive shell inherits SIGINT ignored, and so would every process it starts (Python
# then installs no KeyboardInterrupt): a handler here is reset to the default in the children.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from pulse import PulseServer, PulseUnavailable, client_environment, start_pulse


@pytest.fixture(scope="session")
def pulse_server() -> Iterator[PulseServer]:
    try:
        server = start_pulse()
    except PulseUnavailable as why:
        if os.environ.get("VOICE_GUIDE_REQUIRE_AUDIO") == "1":
            pytest.fail(f"PulseAudio is required here but cannot start: {why}")
        pytest.skip(f"PulseAudio cannot start here: {why}")
    try:
        with client_environment(server):
            yield server
    finally:
        server.stop()


@pytest.fixture
def pulse(pulse_server: PulseServer) -> PulseServer:
    pulse_server.ensure_sinks()
    return pulse_server
