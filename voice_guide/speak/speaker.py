"""`Say` actions spoken on their routes: text -> PCM (cached `Tts`) -> `Player` (`routes.py`).

`Speaker` is the voice the live session hands its actions to (`say(say, now)`, `silence(now)`,
`drain()`, `close()`). When speech cannot be made (TTS fails) or played (no output left), the
text goes to `print_text(text, route)` instead (the live loop shows it on the panel; by default
it is logged) and the session goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from voice_guide.devices import resolve_output
from voice_guide.events import RouteFallback, Say, Undelivered
from voice_guide.speak.cache import SpeechCache
from voice_guide.speak.channel import Utterance
from voice_guide.speak.gate import MicGate
from voice_guide.speak.routes import Player
from voice_guide.speak.tts import SpeechError, Tts, Voice

log = logging.getLogger(__name__)

PrintText = Callable[[str, str], None]  # (text, route) of what could not be spoken


def log_unspoken(text: str, route: str) -> None:
    log.warning("not spoken [%s] %s", route, text)


class Speaker:
    def __init__(self, tts: Tts, player: Player, print_text: PrintText = log_unspoken) -> None:
        self.tts = tts
        self.player = player
        self._print_text = print_text

    @classmethod
    def open(
        cls,
        *,
        practitioner_device: str | None = None,
        room_device: str | None = None,
        practitioner_audible: bool = False,
        voice: Voice | None = None,
        gate: MicGate | None = None,
        store: SpeechCache | None = None,
        on_note: Callable[[RouteFallback | Undelivered], None] | None = None,
        print_text: PrintText = log_unspoken,
    ) -> Speaker:
        """Resolve the devices (DeviceError names what exists) and open both routes' streams.
        `store`: where the texts rendered ahead are kept on disk (none: in memory only)."""
        player = Player(
            resolve_output(practitioner_device),
            resolve_output(room_device),
            practitioner_audible=practitioner_audible,
            gate=gate,
            on_note=on_note,
            on_undelivered=lambda u: print_text(u.text, str(u.route)),
        )
        player.open()
        return cls(Tts(voice, store=store), player, print_text)

    @property
    def gate(self) -> MicGate:
        """The microphone gate the player reports to: the listening side feeds through it."""
        return self.player.gate

    def prepare(self, texts: Iterable[str]) -> None:
        """Render known texts (the protocol's) in the background, so they start at once."""
        self.tts.render_ahead(texts)

    def say(self, say: Say, now: float = 0.0) -> Utterance | None:
        """Queue `say` on its route; None when it could not be rendered (then shown instead).
        `now` (session time) is part of the voice interface; playing needs no session time."""
        try:
            pcm = self.tts.render(say.text)
        except SpeechError as error:
            log.error("%s", error)
            self._print_text(say.text, str(say.route))
            return None
        return self.player.play(pcm, say.route, say.text)

    def silence(self, now: float = 0.0) -> None:
        self.player.stop()

    def drain(self, timeout: float | None = 30.0) -> bool:
        """Wait for everything queued to be spoken."""
        return self.player.wait_idle(timeout)

    def close(self) -> None:
        self.player.close()
