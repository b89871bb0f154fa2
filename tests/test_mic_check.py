"""voice_guide.mic_check on real generated signals: espeak-ng saying "next", pink room noise,
digital silence, a clipped take; fed in blocks as a microphone delivers them."""

from __future__ import annotations

import numpy as np
import pytest
from speech import ESPEAK_VOICES, noise_only, pad, scale, speech_power, synthesize

from voice_guide.mic_check import FLOOR_DBFS, MicCheck, level

RATE = 16_000


def at_dbfs(audio: np.ndarray, dbfs: float) -> np.ndarray:
    """`audio` scaled so its speech (the loud frames) has this RMS level."""
    now = 10 * np.log10(speech_power(audio) / 32768.0 ** 2)
    return scale(audio, dbfs - now)


@pytest.fixture(scope="module")
def next_said() -> np.ndarray:
    return synthesize("next", ESPEAK_VOICES[0])


def check_of(audio: np.ndarray, block: int = 800) -> MicCheck:
    check = MicCheck()
    for offset in range(0, len(audio), block):
        check.feed(audio[offset: offset + block])
    return check


def session(speech: np.ndarray, noise_dbfs: float | None, seed: int = 0) -> np.ndarray:
    """A mic check as the practitioner does it: a quiet second, the word, a pause; with room
    noise at `noise_dbfs` under all of it (None: digital silence, a null device)."""
    said = pad(speech, before=1.5, after=1.0)
    if noise_dbfs is None:
        return said
    noise = noise_only(len(said) / RATE, noise_dbfs, seed)
    return np.clip(said.astype(np.int32) + noise, -32768, 32767).astype(np.int16)


def kinds(check: MicCheck) -> list[str]:
    return [v.kind for v in check.verdicts()]


def test_level_of_a_full_scale_sine_and_of_silence():
    t = np.arange(RATE) / RATE
    sine = np.round(32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    measured = level(sine)
    assert measured.rms_dbfs == pytest.approx(-3.01, abs=0.05)
    assert measured.peak_dbfs == pytest.approx(0.0, abs=0.01)
    assert measured.clipped > 0  # a full-scale sine spends time at the rails
    tenth = level((sine * 0.1).astype(np.int16))
    assert tenth.rms_dbfs == pytest.approx(-23.01, abs=0.05) and tenth.clipped == 0
    assert level(np.zeros(800, np.int16)).rms_dbfs == FLOOR_DBFS
    assert level(np.zeros(0, np.int16)).peak_dbfs == FLOOR_DBFS


def test_speech_in_a_quiet_room_is_ok(next_said: np.ndarray):
    check = check_of(session(at_dbfs(next_said, -25), noise_dbfs=-65))
    assert check.noise_floor == pytest.approx(-65, abs=3)
    assert kinds(check) == ["ok"]
    [verdict] = check.verdicts()
    assert "noise floor -6" in verdict.text and "no clipping" in verdict.text
    speech = check.speech_level()
    assert speech is not None and -28 < speech < -17  # peaks of speech sit above its mean
    assert check.news() == []


def test_the_block_size_does_not_change_the_verdicts(next_said: np.ndarray):
    audio = session(at_dbfs(next_said, -25), noise_dbfs=-65)
    texts = {tuple(v.text for v in check_of(audio, block).verdicts()) for block in (37, 320, 800,
                                                                                    len(audio))}
    assert len(texts) == 1


def test_digital_silence_is_silent_and_said_during_the_check():
    check = MicCheck()
    said: list[str] = []
    for _ in range(int(3.5 * RATE / 800)):
        check.feed(np.zeros(800, np.int16))
        said += [v.kind for v in check.news()]
    assert said == ["silent"]  # once, after three seconds
    [verdict] = check.verdicts()
    assert verdict.kind == "silent" and "digital silence" in verdict.text


def test_a_microphone_far_too_low_is_silent_not_digital(next_said: np.ndarray):
    check = check_of(session(at_dbfs(next_said, -72), noise_dbfs=-85))  # peaks ~ -66
    [verdict] = check.verdicts()
    assert verdict.kind == "silent" and "nothing reached -60 dBFS" in verdict.text


def test_speech_below_minus_40_is_quiet(next_said: np.ndarray):
    check = check_of(session(at_dbfs(next_said, -50), noise_dbfs=-75))
    assert kinds(check) == ["quiet"]
    assert "speak up" in check.verdicts()[0].text


def test_only_the_background_is_quiet_nothing_heard():
    check = check_of(noise_only(4.0, -55))
    assert kinds(check) == ["quiet"]
    assert "nothing louder than the background" in check.verdicts()[0].text


def test_a_clipped_take_is_clipping_and_said_as_it_happens(next_said: np.ndarray):
    loud = scale(at_dbfs(next_said, -25), 24)  # 24 dB too hot: the peaks flatten at the rails
    audio = session(loud, noise_dbfs=-65)
    check = MicCheck()
    first_warning_at = None
    for offset in range(0, len(audio), 800):
        check.feed(audio[offset: offset + 800])
        if any(v.kind == "clipping" for v in check.news()) and first_warning_at is None:
            first_warning_at = offset / RATE
    assert first_warning_at is not None and 1.4 < first_warning_at < 2.5  # during the word
    assert kinds(check)[0] == "clipping"
    assert "of the speech's samples at full scale" in check.verdicts()[0].text


def test_a_single_full_scale_click_is_not_clipping(next_said: np.ndarray):
    audio = session(at_dbfs(next_said, -25), noise_dbfs=-65)
    audio[int(2.0 * RATE)] = 32767
    assert kinds(check_of(audio)) == ["ok"]


def test_a_noisy_room_is_noisy_from_the_first_second(next_said: np.ndarray):
    audio = session(at_dbfs(next_said, -20), noise_dbfs=-38)
    check = MicCheck()
    warned_at = None
    for offset in range(0, len(audio), 800):
        check.feed(audio[offset: offset + 800])
        if check.news() and warned_at is None:
            warned_at = (offset + 800) / RATE
    assert warned_at == pytest.approx(1.0, abs=0.06)  # as soon as the floor is measured
    assert check.noise_floor == pytest.approx(-38, abs=3)
    assert kinds(check) == ["noisy"]
    assert "with nobody speaking" in check.verdicts()[0].text


def test_speech_barely_above_a_moderate_background_is_noisy(next_said: np.ndarray):
    # the floor passes (-50 < -45) but the word's peaks are only ~12 dB above it
    check = check_of(session(at_dbfs(next_said, -44), noise_dbfs=-50))
    assert "noisy" in kinds(check)
    assert any("dB above the background" in v.text for v in check.verdicts())


def test_too_short_a_check_says_so():
    check = check_of(noise_only(0.5, -60))
    [verdict] = check.verdicts()
    assert "too short to judge" in verdict.text
    assert MicCheck().verdicts()[0].text == "no input at all: nothing was recorded"
