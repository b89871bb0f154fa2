"""The natural voice (hibari-tts `heart`), the default: the real model rendering the protocol's
texts, its compact spelling-to-sound tables against hibari's own, the pace, the level, the
memory it adds, the fallback to espeak-ng when it cannot load, and its speech (hibari's 24 kHz
resampled once to 22050 Hz) played on a real stream as it is."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from voice_guide.prompts import known_texts
from voice_guide.protocol import load
from voice_guide.speak import natural
from voice_guide.speak.tts import CALM_RATE, Pcm, SpeechError, Tts, Voice

SENTENCE = "Place both palms flat on the upper back and glide slowly down."
TEXTS = known_texts(load())


@pytest.fixture(scope="module")
def protocol_speech() -> list[tuple[str, Pcm]]:
    speech = Tts()
    return [(text, speech.render(text)) for text in TEXTS]


def test_the_default_voice_is_the_natural_one_at_the_players_rate() -> None:
    speech = Tts()
    assert speech.voice.name == "heart"
    assert speech.load() == f"voice: heart (natural, hibari-tts; {CALM_RATE} words a minute)"
    pcm = speech.render(SENTENCE)
    assert pcm.rate == 22050 and pcm.samples.dtype == np.int16 and pcm.samples.ndim == 1
    assert 3.0 < pcm.duration < 7.0
    rms = np.sqrt(np.mean(pcm.samples.astype(np.float64) ** 2)) / 32768
    assert rms > 0.03  # speech at about espeak-ng's level, not a whisper
    assert speech.render(f"  {SENTENCE} ") is pcm  # cached like every voice


def test_compact_tables_give_exactly_hibaris_phonemes() -> None:
    from hibari.g2p import G2P

    stock, compact = G2P(), natural.compact_g2p()
    extra = [
        "I read the book yesterday; I will read it again tomorrow.",
        "Dr. Smith paid $9.99 at 7:30 pm on the 3rd of March 2024.",
        "The wind wound the record player. Lead the way to the lead pipe.",
        "Quokkas and xylophones, naïve café résumé.",
        "Time left in this step: 1 minute 30 seconds. Session: 42 minutes. OK?",
    ]
    for text in [*TEXTS, *extra]:
        assert compact(text) == stock(text), text


def test_sorted_map_answers_like_the_dict() -> None:
    source = {"b": "bˈi", "a": "ˈA", "naïve": "nɑˈiv", "read": {"VBD": "ɹˈɛd", "DEFAULT": "ɹˈid"}}
    table = natural.SortedMap(source)
    for key, value in source.items():
        assert table.get(key) == value
    assert table.get("c") is None and table.get("") is None and table.get("c", "x") == "x"
    assert "a" in table and "zz" not in table and len(table) == 4


def test_speech_starts_within_a_few_ms_without_a_click_and_ends_with_a_short_pause(
    protocol_speech: list[tuple[str, Pcm]],
) -> None:
    """hibari gives each sentence ~0.3 s of near-silence before and ~0.4 s after: cut, so an
    answer is heard sooner and the microphone is muted for less."""
    floor = natural.SILENT * 32767
    for _, pcm in protocol_speech[:20]:
        samples = pcm.samples.astype(np.float64)
        loud = np.flatnonzero(np.abs(samples) >= floor * natural.GAIN * 0.9)
        assert loud[0] / pcm.rate <= natural.LEAD_KEEP_SECONDS + 0.002
        assert abs(samples[0]) < 50  # the fade-in starts from silence
        trail = (len(samples) - 1 - loud[-1]) / pcm.rate
        assert 0.09 < trail <= natural.TRAIL_KEEP_SECONDS + 0.02  # a peak-limited text: a bit more


def test_sentences_are_separated_by_the_calm_pause() -> None:
    one = Tts().render("Breathe in slowly.")
    two = Tts().render("Breathe in slowly. Breathe in slowly.")
    gap = two.duration - 2 * one.duration + natural.TRAIL_KEEP_SECONDS
    assert gap == pytest.approx(natural.SENTENCE_PAUSE, abs=0.1)


def test_the_default_pace_is_the_stated_words_per_minute(
    protocol_speech: list[tuple[str, Pcm]],
) -> None:
    pace = natural.words_per_minute(protocol_speech)
    assert pace == pytest.approx(CALM_RATE, rel=0.03)


def test_rate_and_volume() -> None:
    slow = Tts(Voice(rate=100)).render(SENTENCE)
    fast = Tts(Voice(rate=250)).render(SENTENCE)
    assert slow.duration > 1.6 * fast.duration
    full = Tts(Voice(volume=1.0)).render(SENTENCE).samples.astype(np.float64)
    half = Tts(Voice(volume=0.5)).render(SENTENCE).samples.astype(np.float64)
    assert np.abs(half).max() / np.abs(full).max() == pytest.approx(0.5, abs=0.01)
    with pytest.raises(SpeechError, match=r"rate 300 is out of range for heart \(94\.\.284"):
        Tts(Voice(rate=300)).render(SENTENCE)


def test_the_same_text_always_sounds_the_same() -> None:
    first = Tts().render("How is the pressure?").samples
    again = Tts().render("How is the pressure?").samples
    assert np.array_equal(first, again)


def test_never_clips(protocol_speech: list[tuple[str, Pcm]]) -> None:
    volume = Voice().volume
    peaks = [int(np.abs(pcm.samples.astype(np.int32)).max()) for _, pcm in protocol_speech]
    assert max(peaks) <= round(natural.PEAK * volume * 32767) + 1


def test_resampling_keeps_the_speech_and_its_length() -> None:
    from scipy.signal import resample_poly

    model = natural.load_model()
    sentences = list(model.stream(SENTENCE, speed=0.79, seed=natural.SEED))
    native = natural.shape(sentences)
    ours = natural.resampled(native, 24_000, 22050)
    reference = resample_poly(native, 147, 160)  # 22050 / 24000 = 147 / 160
    assert len(ours) == len(reference) == round(len(native) * 22050 / 24_000)
    assert np.corrcoef(ours, reference)[0, 1] > 0.999
    for length in (1, 5, 321, 24_000 * 7 + 13):  # any length, padded to a fast one inside
        assert len(natural.resampled(np.ones(length, np.float32), 24_000, 22050)) == round(
            length * 22050 / 24_000)


def test_renders_far_faster_than_real_time() -> None:
    speech = Tts()
    speech.render("Warm up.")
    started = time.perf_counter()
    pcm = speech.render(TEXTS[4])
    assert time.perf_counter() - started < pcm.duration / 10


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


def test_the_memory_the_natural_voice_adds_stays_modest() -> None:
    """A guard, not a figure (the README's live figures are measured by benchmarks.live): the
    model, the tables and rendering the whole protocol ahead (imports and the PCM not counted)
    stay far below what hibari's own tables as Python dicts alone added (~135 MB). The heap's
    fragmentation varies with thread timing on a busy machine, hence the wide bound. And
    scipy.signal (51 MB) is never imported."""
    done = _python(
        "import sys, numpy, scipy.fft, onnxruntime\n"
        "from voice_guide.prompts import known_texts\n"
        "from voice_guide.protocol import load\n"
        "from voice_guide.speak.natural import release_memory\n"
        "from voice_guide.speak.tts import Tts\n"
        "texts = known_texts(load())\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 / 1e6\n"
        "release_memory(); before = rss()\n"
        "speech = Tts(); speech.load(); speech.render_ahead(texts); speech.wait_ahead()\n"
        "pcm = sum(len(speech.render(t).samples) for t in texts) * 2 / 1e6\n"
        "assert 'scipy.signal' not in sys.modules\n"
        "print(rss() - before - pcm)\n"
    )
    assert done.returncode == 0, done.stderr
    added = float(done.stdout)
    assert 20 < added < 125, added


def test_falls_back_to_espeak_when_the_natural_voice_cannot_load(tmp_path: Path) -> None:
    """No hibari package (an import that fails, as on a machine without it): espeak-ng speaks,
    and says why."""
    out = tmp_path / "fallback.wav"
    done = _python(
        "import sys; sys.modules['hibari'] = None\n"
        "from voice_guide.cli import main\n"
        f"sys.exit(main(['say', 'Take a slow breath.', '--out', {str(out)!r}]))\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("voice-guide: warning: the natural voice heart cannot load (")
    assert "using espeak-ng's en-us instead" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "22050 Hz mono, voice en-us" in done.stdout
    line = _python(
        "import sys; sys.modules['hibari'] = None\n"
        "from voice_guide.speak.tts import Tts\n"
        "print(Tts().load())\n"
    )
    assert line.stdout.startswith(
        "voice: en-us (espeak-ng, the fallback: the natural voice heart cannot load (")
    strict = _python(
        "import sys; sys.modules['hibari'] = None\n"
        "from voice_guide.speak.tts import SpeechError, Tts\n"
        "try: Tts(fallback=False).render('Hello.')\n"
        "except SpeechError as error: print('refused:', error)\n"
    )
    assert strict.stdout.startswith("refused: the natural voice heart cannot load")


@pytest.mark.audio
def test_its_speech_plays_as_rendered_on_a_real_stream(pulse) -> None:  # type: ignore[no-untyped-def]
    from heard import pieces_heard
    from pulse import Recorder

    from voice_guide.devices import resolve_output
    from voice_guide.events import Route
    from voice_guide.speak.routes import Player

    pcm = Tts().render("How is the pressure? Would you like it lighter or deeper?")
    with Player(resolve_output("earbud"), resolve_output("room")) as player:
        player.open()
        with Recorder("room.monitor") as room:
            utterance = player.play(pcm, Route.ROOM, "check")
            assert utterance.wait(pcm.duration + 5)
            time.sleep(0.3)
        stream_rate = player._channels[resolve_output("room")].rate  # type: ignore[attr-defined]
    assert utterance.outcome == "played"
    # Nothing to resample in the audio callback, so playing it costs the callback nothing more
    # than espeak-ng's speech (underruns on a busy machine come from the other processes).
    assert stream_rate == pcm.rate == 22050
    assert pieces_heard(room.audio(), pcm.samples.astype(np.float32) / 32768, pcm.rate) >= 0.75
