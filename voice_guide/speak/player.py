"""The names this module held before speech out was split by concern, for the code that still
imports them from here. New code imports from where they live:

- `Player` (the routes and their fallback): `voice_guide.speak.routes`
- `Utterance`, the output stream (`OutputChannel`), `at_rate`: `voice_guide.speak.channel`
- `MicGate`, `capture_time`, `TAIL_SECONDS`: `voice_guide.speak.gate`
"""

from __future__ import annotations

from voice_guide.speak.channel import OUTPUT_BLOCK, OUTPUT_LATENCY, STALL_SECONDS, Utterance
from voice_guide.speak.channel import at_rate as _at_rate
from voice_guide.speak.gate import TAIL_SECONDS, MicGate, capture_time
from voice_guide.speak.routes import Player

__all__ = [
    "OUTPUT_BLOCK",
    "OUTPUT_LATENCY",
    "STALL_SECONDS",
    "TAIL_SECONDS",
    "MicGate",
    "Player",
    "Utterance",
    "_at_rate",
    "capture_time",
]
