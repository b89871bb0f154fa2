"""Text to speech with the real pyttsx3 espeak-ng engine: PCM in memory, cache, voice settings,
voice names. (The natural voice, the default: tests/test_natural_voice.py.)"""

from __future__ import annotations

import re
import wave

import numpy as np
import pytest

from voice_guide.speak import espeak
from voice_guide.speak import tts as tts_module
from voice_guide.speak.tts import Pcm, SpeechError, Tts, Voice

ESPEAK = Voice("en-us")
SENTENCE = "Place both palms flat on the upper back and glide slowly down."


def test_render_gives_int16_mono_speech_at_the_engine_rate() -> None:
    pcm = Tts(ESPEAK).render(SENTENCE)
    assert pcm.samples.dtype == np.int16
    assert pcm.samples.ndim == 1
    assert pcm.rate == 22050
    assert 2.0 < pcm.duration < 8.0
    rms = np.sqrt(np.mean(pcm.samples.astype(np.float64) ** 2)) / 32768
    assert rms > 0.02  # speech, not silence


def test_nothing_is_left_on_disk_and_nothing_printed(capfd: pytest.CaptureFixture[str]) -> None:
    Tts(Voice("en-us", rate=150)).render("Nothing is kept on disk.")
    scratch = espeak.ENGINE._scratch
    assert scratch is not None
    assert list(scratch.iterdir()) == []
    out, _ = capfd.readouterr()
    assert "Audio saved" not in out


def test_cache_returns_the_same_pcm_and_normalizes_whitespace() -> None:
    speech = Tts(ESPEAK)
    first = speech.render("How is the   pressure?")
    assert speech.cached("How is the pressure?")
    assert speech.render(" How is the pressure? ") is first


def test_render_ahead_fills_the_cache_in_the_background() -> None:
    speech = Tts(ESPEAK)
    texts = [f"Step {n}: keep a slow, even rhythm." for n in range(1, 6)]
    thread = speech.render_ahead(texts)
    assert thread.daemon
    assert speech.wait_ahead(timeout=30)
    assert all(speech.cached(text) for text in texts)


def test_slower_rate_gives_longer_speech() -> None:
    slow = Tts(Voice("en-us", rate=100)).render(SENTENCE).duration
    fast = Tts(Voice("en-us", rate=200)).render(SENTENCE).duration
    assert slow > 1.5 * fast


def test_volume_scales_the_samples() -> None:
    full = Tts(Voice("en-us", volume=1.0)).render(SENTENCE).samples.astype(np.float64)
    half = Tts(Voice("en-us", volume=0.5)).render(SENTENCE).samples.astype(np.float64)
    n = min(len(full), len(half))
    ratio = np.abs(half[:n]).max() / np.abs(full[:n]).max()
    assert 0.45 < ratio < 0.55


def test_alternating_voices_keep_their_own_settings() -> None:
    """The driver's property race: rate changes used to stick to an earlier voice."""
    voices = [Voice("en-us", rate=110), Voice("en-us", rate=190), Voice("en-us+f2", rate=150)]
    reference = {voice: Tts(voice).render(SENTENCE).duration for voice in voices}
    for _ in range(6):
        for voice in voices:
            fresh = Tts(voice)  # a new cache: renders again with this voice's settings
            assert fresh.render(SENTENCE).duration == pytest.approx(reference[voice], abs=0.1)


def test_control_characters_are_not_passed_to_the_engine() -> None:
    # Ctrl-A starts an espeak-ng embedded command (we use them for rate and pitch).
    assert tts_module._normalize("Breathe\x01 in\n\tslowly.") == "Breathe in slowly."
    plain = Tts(ESPEAK).render("Breathe in slowly.")
    control = Tts(ESPEAK).render("Breathe\x01 in slowly.")
    assert control.duration == pytest.approx(plain.duration, 0.1)


def test_unknown_voice_is_a_clear_error_that_names_the_voices() -> None:
    for name in ("no-such-voice", "klingon", "en-us+no-such-variant"):
        with pytest.raises(SpeechError, match=re.escape(repr(name))) as raised:
            Tts(Voice(name=name)).render("Hello.")
        message = str(raised.value)
        assert "heart" in message and "en-us" in message and "en-gb-x-rp" in message
        assert "\n" not in message
    assert Tts(ESPEAK).render("Still working.").duration > 0.3  # the engine recovers


def test_espeak_voices_by_their_language_code_and_with_a_variant() -> None:
    """"en-gb" used to fail inside espeak-ng (EE_INTERNAL_ERROR), and any unknown name spoke
    with some other voice; every listed name now speaks, with its own sound."""
    from voice_guide.speak import voices

    names = [info.name for info in voices.espeak_voices()]
    assert names[0] == "en-us" and {"en-gb", "en-gb-x-rp", "en-029"} <= set(names)
    assert {"f2", "m3", "klatt"} <= set(voices.espeak_variants())
    rendered = {name: Tts(Voice(name)).render(SENTENCE).samples for name in ("en-gb", "en-us")}
    assert all(len(samples) > 22050 for samples in rendered.values())
    assert not np.array_equal(rendered["en-gb"][:20000], rendered["en-us"][:20000])
    plain = Tts(ESPEAK).render(SENTENCE).duration
    assert Tts(Voice("en-us+f2")).render(SENTENCE).duration != pytest.approx(plain, abs=0.01)
    assert Tts(Voice("EN-GB")).render("Hello.").duration > 0.3  # names are not case-sensitive


def test_an_espeak_voice_says_so_in_the_start_up_line() -> None:
    assert Tts(Voice("en-gb", rate=150)).load() == "voice: en-gb (espeak-ng; 150 words a minute)"


def test_voice_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="rate"):
        Voice(rate=5)
    with pytest.raises(ValueError, match="volume"):
        Voice(volume=1.5)


def test_empty_text_is_empty_audio() -> None:
    assert Tts(ESPEAK).render("   ").duration == 0.0


def test_write_wav_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pcm = Tts(ESPEAK).render("Rest now.")
    path = tmp_path / "rest.wav"
    pcm.write_wav(path)
    with wave.open(str(path)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 22050)
        data = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    assert np.array_equal(data, pcm.samples)
    assert isinstance(Pcm(data, 22050).duration, float)


def test_speech_starts_within_a_few_ms_and_ends_with_a_short_pause() -> None:
    """espeak-ng pads each text with 10-67 ms of silence before and ~0.4 s after: trimmed, so an
    answer is heard sooner and the microphone is muted for less."""
    for text in ("Resuming.", "Paused. Say resume when ready.", SENTENCE):
        samples = Tts(ESPEAK).render(text).samples
        sound = np.flatnonzero(samples)
        assert 0 < sound[0] <= round(espeak.LEAD_KEEP_SECONDS * 22050)
        assert np.all(samples[: sound[0]] == 0)  # cut inside exact silence: no click
        trail = (len(samples) - 1 - sound[-1]) / 22050
        assert trail == pytest.approx(espeak.TRAIL_KEEP_SECONDS, abs=0.002)


def test_trim_silence_keeps_the_sound_and_the_margins_asked_for() -> None:
    sound = np.array([0, 0, 5, -3, 0, 7, 0, 0, 0, 0], np.int16)
    assert espeak.trim_silence(sound, rate=1000, lead=0.001, trail=0.002).tolist() == [
        0, 5, -3, 0, 7, 0, 0,
    ]
    assert espeak.trim_silence(sound, rate=1000, lead=1.0, trail=1.0).tolist() == (
        sound.tolist()
    )
    silence = np.zeros(50, np.int16)
    assert len(espeak.trim_silence(silence, rate=1000)) == 50
