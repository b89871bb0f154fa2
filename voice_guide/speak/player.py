"""The names this module held before speech out was split by concern, for the code that still
imports them from here (`cli/say.py`, the benchmarks, older tests). New code imports them from
where they live:

- `Player` (the routes and their fallback): `voice_guide.speak.routes`
- `Utterance` and `at_rate` (here `_at_rate`), beside the output stream: `voice_guide.speak.channel`
- `MicGate`, `capture_time`: `voice_guide.speak.gate`
"""

from __future__ import annotations

from voice_guide.speak.channel import Utterance
from voice_guide.speak.channel import at_rate as _at_rate
from voice_guide.speak.gate import MicGate, capture_time
from voice_guide.speak.routes import Player

__all__ = ["MicGate", "Player", "Utterance", "_at_rate", "capture_time"]
