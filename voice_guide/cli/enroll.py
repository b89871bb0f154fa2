"""`voice-guide enroll`: teach the guide the practitioner's voice (a speaker profile).

Interactive: for each phrase (by default the ones a practitioner says most,
`COMMON_PHRASES`; `--phrases all` for every one, `--phrases go,stop` for a few), the
guide says what to say (spoken on `--output-device`, else the config's practitioner device, else
the system's output, in the guide's voice; printed too; `--silent` only prints) and records
`--takes` takes from the microphone, from the moment the prompt has finished playing. How long
it will take is said first. Each take is checked (no speech, too quiet, clipped, cut off, too
noisy, more than one thing, another command heard in it, not like the other takes) and asked for
again with the reason. A microphone that gives nothing (digital silence, or nothing loud enough
twice in a row) stops the enrollment at once, naming it, with `voice-guide mic`'s diagnosis. At
the end a self-test says how many takes the new profile hears right; when some are not, the
phrases are offered to be recorded again (answer on the terminal), then the profile is saved,
and the exit status is 1 if the self-test still fails. Ctrl-C before then keeps nothing.

`--from MANIFEST.tsv`: the same from recordings (columns `path`, `phrase`). A phrase not in the
vocabulary or a missing or unreadable file is a one-line error naming the row, and nothing is
saved; a take with no speech or another command in it is left out with a warning naming it (and
the phrases left with no take are said); other problems are warnings.

An existing profile of the same name keeps the phrases not enrolled now.
"""

from __future__ import annotations

import argparse
import queue
import sys
import time
from pathlib import Path
from typing import Any

HELP = ("record the practitioner's own takes of the commands into a speaker profile "
        "(interactive, or --from MANIFEST.tsv)")

MAX_TRIES = 4  # asked again at most this many times per take, then the phrase is skipped
TAKE_SECONDS = 5.0  # the longest a take is waited for
AFTER_SPEECH = 0.6  # seconds recorded after the utterance seems to end
# What is recorded unless told otherwise: the phrases a practitioner says most in a session
# (moving on, going back, hearing it again, pausing, where and how long, and the confirmation of
# ending), so that enrolling takes minutes; `--phrases all` adds the other 28.
COMMON_PHRASES: tuple[str, ...] = ("next", "go", "back", "repeat", "pause", "stop",
                                   "where am i", "how long", "yes", "no")
# Seconds per take, the prompt spoken and the self-test included: issue 20 measured 114 takes
# (38 phrases, 3 takes, no retries) in 11 min 47 s.
SECONDS_PER_TAKE = 6.2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", metavar="NAME", default="default",
                        help="the profile to make or add to (default: default)")
    parser.add_argument("--from", dest="manifest", metavar="MANIFEST.tsv",
                        help="enroll from recordings: tab-separated, header 'path' and 'phrase' "
                        "(paths relative to the manifest's folder)")
    parser.add_argument("--input-device", metavar="D",
                        help="microphone: index or part of a name (default: the system's)")
    parser.add_argument("--takes", type=_takes, default=3, metavar="N",
                        help="takes of each phrase (default 3)")
    parser.add_argument("--phrases", metavar="LIST",
                        help="comma-separated phrases to enroll, or 'all' (every phrase but the "
                        "client's answers); default: the ones said most, "
                        f"{', '.join(COMMON_PHRASES)}")
    parser.add_argument("--output-device", "--practitioner-device", dest="practitioner_device",
                        metavar="D",
                        help="where the prompts are spoken: index or part of a name (default: "
                        "[devices] practitioner of the config file, else the system's output; "
                        "earbuds keep them out of the microphone)")
    parser.add_argument("--silent", action="store_true",
                        help="print the prompts only, do not speak them")
    from voice_guide.cli.say import add_voice_arguments

    add_voice_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from voice_guide.cli import fail
    from voice_guide.listen.embedding import EmbeddingError, EmbeddingFrontEnd
    from voice_guide.listen.enrollment import EnrollError, read_manifest
    from voice_guide.listen.profile import ProfileError, check_name

    try:
        name = check_name(args.profile)
        phrases = _phrases(args.phrases)
        existing = _existing(name)
    except (ProfileError, EnrollError) as error:
        return fail(str(error))
    if args.manifest is not None and args.phrases is not None:
        return fail("enroll: --phrases is for recording; with --from the manifest says which")
    try:
        front_end = EmbeddingFrontEnd()
    except EmbeddingError as error:
        return fail(str(error))
    try:
        if args.manifest is not None:
            read_manifest(Path(args.manifest))  # its mistakes before the engine loads
        base, reason = _base_engine()
        if args.manifest is not None:
            takes = _from_manifest(Path(args.manifest), front_end, base)
            if not takes:
                return fail("enroll: no takes left; the profile is unchanged")
            return _finish(name, existing, takes, front_end, base, reason)
        recorder = Recorder(args, front_end, base)
        with recorder:
            takes = recorder.all(phrases)
            if not takes:
                return fail("enroll: no takes recorded; the profile is unchanged")
            return _finish(name, existing, takes, front_end, base, reason, recorder)
    except EnrollError as error:
        return fail(f"{error}; nothing was saved")
    except ProfileError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        print("\nvoice-guide: enroll stopped: nothing was saved", file=sys.stderr)
        return 130


def _takes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of takes") from None
    if not 1 <= value <= 10:
        raise argparse.ArgumentTypeError("--takes must be between 1 and 10")
    return value


def _phrases(option: str | None) -> list[str]:
    from voice_guide.listen.enrollment import EnrollError, phrase_of, why_not_a_phrase
    from voice_guide.listen.profile import ENROLL_PHRASES

    if option is None:
        return list(COMMON_PHRASES)
    if option.strip().lower() == "all":
        return list(ENROLL_PHRASES)
    chosen: list[str] = []
    for written in option.split(","):
        if not written.strip():
            continue
        phrase = phrase_of(written)
        if phrase is None:
            raise EnrollError(f"--phrases: {why_not_a_phrase(written)}")
        if phrase not in chosen:
            chosen.append(phrase)
    if not chosen:
        raise EnrollError("--phrases names no phrase")
    return chosen


def _existing(name: str) -> Any:
    """The profile of this name when there is one (it keeps the phrases not enrolled now)."""
    from voice_guide.listen.profile import FILE, Profile, profiles_dir

    folder = profiles_dir() / name
    return Profile.read(folder) if (folder / FILE).exists() else None


def _base_engine() -> tuple[Any, str]:
    """The engine a session listens with, without a profile: it checks that a take is not
    heard as another command, and is the self-test's base. (None, why) when none can load."""
    from voice_guide.listen.factory import EngineError, make_recognizer

    try:
        base, reason = make_recognizer("auto")
    except EngineError as error:
        _warn(f"takes are not checked by the recognizer and there is no self-test ({error})")
        return None, ""
    return base, reason


def _from_manifest(manifest: Path, front_end: Any, base: Any) -> list[Any]:
    from voice_guide.listen.enrollment import takes_from_manifest

    takes = takes_from_manifest(manifest, front_end, _warn, base)
    counts: dict[str, int] = {}
    for take in takes:
        counts[take.phrase] = counts.get(take.phrase, 0) + 1
    if takes:
        print(f"{len(takes)} takes of {len(counts)} phrase{'s' if len(counts) > 1 else ''} from "
              f"{manifest}: " + ", ".join(f"{p} ({n})" for p, n in counts.items()))
    return takes


def _finish(name: str, existing: Any, takes: list[Any], front_end: Any, base: Any, reason: str,
            recorder: Recorder | None = None) -> int:
    """Self-test (interactive: the phrases it fails offered to be recorded again), then save
    (nothing is written before). 1 when the self-test still fails, said in a line."""
    from voice_guide.listen.enrollment import build_profile

    result = _self_test(name, existing, takes, front_end, base, reason)
    if result is not None and not result.passed and recorder is not None \
            and recorder.offer_again(result.failed):
        again = set(result.failed)
        takes = [t for t in takes if t.phrase not in again] + recorder.all(list(result.failed))
        result = _self_test(name, existing, takes, front_end, base, reason)
    profile = build_profile(name, takes, existing)
    folder = profile.save()
    kept = [p for p in (existing.phrases if existing else []) if p not in {t.phrase for t in takes}]
    print(f"profile {name!r} saved in {folder}: {profile.summary()}"
          + (f"; kept from before: {', '.join(kept)}" if kept else ""))
    if result is None or result.passed:
        return 0
    phrases = ",".join(result.failed)
    line = (f"self-test: not every take of {', '.join(repr(p) for p in result.failed)} was heard "
            f"right; `voice-guide enroll --phrases \"{phrases}\"` records "
            f"{'it' if len(result.failed) == 1 else 'them'} again")
    if recorder is None:  # recordings given: the self-test is a finding, not a failed step
        _warn(line)
        return 0
    print(f"voice-guide: {line}", file=sys.stderr)
    return 1


def _self_test(name: str, existing: Any, takes: list[Any], front_end: Any, base: Any,
               reason: str) -> Any:
    """Each take heard with a profile of the others (None without an engine)."""
    from voice_guide.listen.enrollment import build_profile, self_test

    if base is None:
        return None
    profile = build_profile(name, takes, existing)
    mine = build_profile(name, takes)  # the self-test: only the takes of this enrollment...
    others = {p: t for p, t in profile.templates.items() if p not in mine.templates}
    tested = mine.with_phrases(others)  # ...with the profile's other phrases as rivals
    print(f"self-test with {reason.removeprefix('engine: ')} ...", flush=True)
    result = self_test(base, tested, takes, front_end)
    print(result.line())
    for where in result.missed[:10]:
        print(f"  not heard right: {where}")
    return result


# --- recording ----------------------------------------------------------------------------


class Recorder:
    """The interactive takes: the microphone, the spoken prompts and the engine's check, for
    every phrase asked for (`all`), each take checked and asked for again until good (a phrase
    whose takes keep failing is skipped, and said so)."""

    def __init__(self, args: argparse.Namespace, front_end: Any, base: Any) -> None:
        from voice_guide.devices import DeviceError, resolve_input
        from voice_guide.listen.enrollment import EnrollError

        try:
            self.endpoint = resolve_input(args.input_device)
        except DeviceError as error:
            raise EnrollError(str(error)) from None
        self.args, self.front_end, self.base = args, front_end, base
        self.label = "the system's default" if self.endpoint.is_default else self.endpoint.label
        self.prompts: SpokenPrompts | None = None
        self.microphone: Microphone | None = None
        self.silent_takes = 0  # in a row

    def __enter__(self) -> Recorder:
        self.prompts = SpokenPrompts.open(self.args)
        self.microphone = Microphone(self.endpoint).__enter__()
        return self

    def __exit__(self, *_: object) -> None:
        if self.microphone is not None:
            self.microphone.__exit__()
        if self.prompts is not None:
            self.prompts.close()

    def all(self, phrases: list[str]) -> list[Any]:
        takes = self.args.takes
        print(f"microphone: {self.label}")
        print(f"Enrolling {len(phrases)} phrase{'s' if len(phrases) > 1 else ''}, {takes} "
              f"take{'s' if takes > 1 else ''} each ({duration(len(phrases) * takes)}), into "
              f"profile {self.args.profile!r}: {', '.join(phrases)}. Say each phrase as you "
              "would in a session, after the prompt, then pause. Ctrl-C stops (nothing is "
              "saved until the end).", flush=True)
        kept: list[Any] = []
        skipped: list[str] = []
        for number, phrase in enumerate(phrases, start=1):
            got = self.phrase(phrase, f"{number}/{len(phrases)}, {len(phrases) - number + 1} "
                              f"phrase{'s' if len(phrases) - number + 1 > 1 else ''} left")
            kept += got
            skipped += [] if got else [phrase]
        if skipped:
            print(f"skipped: {', '.join(skipped)}")
        return kept

    def phrase(self, phrase: str, where: str) -> list[Any]:
        """The takes of one phrase; [] when they kept failing."""
        import numpy as np

        from voice_guide.listen.enrollment import (
            Take,
            heard_instead,
            take_problems,
            take_utterance,
        )

        assert self.prompts is not None and self.microphone is not None
        kept: list[Take] = []
        tries = 0
        while len(kept) < self.args.takes:
            # spoken first: the printed line means "recording now"
            self.prompts.say(f"Once more. Say: {phrase}." if tries else f"Say: {phrase}.")
            print(f"[{where}] Say \"{phrase}\" (take {len(kept) + 1} of {self.args.takes})",
                  flush=True)
            recording, stopped_early = self.microphone.take(TAKE_SECONDS)
            self._stop_if_silent(recording)
            utterance, count = take_utterance(recording)
            features = None if utterance is None else self.front_end.features(utterance.audio)
            others = np.stack([t.features for t in kept]) if kept else None
            problems = take_problems(recording, utterance, count, others, features,
                                     stopped_early)
            if not problems and utterance is not None and self.base is not None:
                other = heard_instead(self.base, utterance, phrase)
                if other is not None:
                    problems = [f"heard \"{other.phrase}\" (the command {other.command}), not "
                                f"\"{phrase}\": say \"{phrase}\""]
            if not problems and features is not None:
                kept.append(Take(phrase, recording, features, f"{phrase!r} take "
                                 f"{len(kept) + 1}"))
                tries = 0
                continue
            tries += 1
            if tries >= MAX_TRIES:
                print(f"  {problems[0]}: skipping \"{phrase}\" (enroll it later with "
                      f"--phrases \"{phrase}\")", flush=True)
                return []
            if problems[0].startswith("not like") and len(kept) == 1 and tries == 2:
                kept = []  # two takes disagree twice: the first may be the odd one
                print("  not like the first take either: starting this phrase again",
                      flush=True)
                continue
            print(f"  again: {problems[0]}", flush=True)
        return kept

    def _stop_if_silent(self, recording: Any) -> None:
        """EnrollError when the microphone gives nothing: at once for digital silence or no
        input at all, after two takes in a row for nothing loud enough to be speech."""
        from voice_guide.listen.enrollment import EnrollError
        from voice_guide.mic_check import MicCheck

        check = MicCheck()
        check.feed(recording)
        verdict = check.verdicts()[0]
        if verdict.kind != "silent":
            self.silent_takes = 0
            return
        self.silent_takes += 1
        digital = not len(recording) or not recording.any()
        if digital or self.silent_takes >= 2:
            raise EnrollError(f"enroll: the microphone {self.label}: {verdict.text} "
                              "(`voice-guide mic` checks a microphone, `voice-guide devices` "
                              "lists them, --input-device picks one)")

    def offer_again(self, phrases: tuple[str, ...]) -> bool:
        """Ask (on standard input) whether to record these phrases again; no at its end."""
        listed = ", ".join(f'"{p}"' for p in phrases)
        print(f"Record {listed} again? [Y/n] ", end="", flush=True)
        answer = sys.stdin.readline()
        if not answer:  # no terminal (end of input): nothing is asked of nobody
            print("(no answer: not recorded again)", flush=True)
            return False
        return answer.strip().lower() in ("", "y", "yes")


def duration(takes: int) -> str:
    """How long recording this many takes takes, said before it starts."""
    minutes = takes * SECONDS_PER_TAKE / 60
    return "about a minute" if minutes < 1.5 else f"about {round(minutes)} minutes"


class SpokenPrompts:
    """The prompts said aloud in the guide's voice, each played to its end before the take is
    recorded (so a loudspeaker's prompt is not taken for the practitioner's voice). Any failure
    (no output, the voice cannot load, playback stops) is one warning, then prompts are only
    printed: enrollment goes on."""

    def __init__(self, speech: Any = None, player: Any = None, where: str = "") -> None:
        self.speech, self.player, self.where = speech, player, where

    @classmethod
    def open(cls, args: argparse.Namespace) -> SpokenPrompts:
        if args.silent:
            return cls()
        from voice_guide.cli.say import voice_from
        from voice_guide.devices import DeviceError, list_devices, resolve_output
        from voice_guide.speak.player import Player
        from voice_guide.speak.tts import SpeechError, Tts

        voice, problem = voice_from(args, "enroll")
        if voice is None:
            from voice_guide.listen.enrollment import EnrollError

            raise EnrollError(problem)
        try:
            endpoint = resolve_output(args.practitioner_device)
            if endpoint.is_default and not list_devices().outputs:
                raise DeviceError("there are no audio outputs")
        except DeviceError as error:
            _warn(f"prompts are printed only: {error}")
            return cls()
        speech = Tts(voice)
        try:
            loaded = speech.load()  # now, not at the first prompt
        except SpeechError as error:
            _warn(f"prompts are printed only: {error}")
            return cls()
        print(f"prompts are spoken on {endpoint.label}; {loaded}", flush=True)
        return cls(speech, Player(endpoint, endpoint), endpoint.label)

    def say(self, text: str) -> None:
        if self.speech is None:
            return
        from voice_guide.speak.tts import SpeechError

        try:
            pcm = self.speech.render(text)
        except SpeechError as error:
            self._give_up(str(error))
            return
        utterance = self.player.play(pcm, "practitioner", text)
        if not utterance.wait(pcm.duration + 10.0) or utterance.outcome != "played":
            self._give_up(f"playback on {self.where} failed ({utterance.outcome})")
            return
        time.sleep(SETTLE)  # the room's echo of the prompt dies away before the take

    def _give_up(self, why: str) -> None:
        _warn(f"prompts are printed only from now: {why}")
        self.close()

    def close(self) -> None:
        if self.player is not None:
            self.player.close()
        self.speech = self.player = None

    def __enter__(self) -> SpokenPrompts:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


SETTLE = 0.25  # seconds after a prompt before the take starts


def _warn(line: str) -> None:
    print(f"voice-guide: warning: {line}", file=sys.stderr, flush=True)


class Microphone:
    """The input device as 16 kHz int16 blocks, recorded one take at a time."""

    BLOCK = 1600  # 100 ms

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint
        self.blocks: queue.Queue[Any] = queue.Queue()
        self.rate = 16_000
        self.stream: Any = None

    def __enter__(self) -> Microphone:
        from voice_guide.devices import open_input_stream
        from voice_guide.listen.enrollment import EnrollError

        try:
            try:
                stream = open_input_stream(self.endpoint, samplerate=16_000, channels=1,
                                           dtype="int16", blocksize=self.BLOCK,
                                           callback=self._callback)
            except Exception:  # the device cannot do 16 kHz itself: take its rate, resample
                stream = open_input_stream(self.endpoint, channels=1, dtype="int16",
                                           callback=self._callback)
            self.rate = int(stream.samplerate)
            stream.start()
        except Exception as error:
            raise EnrollError(f"cannot record from {self.endpoint.label}: "
                              f"{str(error).splitlines()[0] if str(error) else error}") from None
        self.stream = stream
        return self

    def __exit__(self, *_: object) -> None:
        if self.stream is not None:
            self.stream.stop()
            self.stream.close()

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        self.blocks.put(indata[:, 0].copy())

    def _block(self, timeout: float) -> Any:
        import numpy as np

        block = self.blocks.get(timeout=timeout)
        if self.rate != 16_000:
            from voice_guide.wav import to_16k_int16

            block = to_16k_int16(block.astype("float32") / 32768.0, self.rate)
        return np.asarray(block, np.int16)

    def take(self, seconds: float) -> tuple[Any, bool]:
        """One take: from now until the speaker has said something and paused (or `seconds`),
        and whether the time ran out while they were still speaking."""
        import numpy as np

        from voice_guide.listen.enrollment import _Capture
        from voice_guide.listen.pipeline import Listener

        while not self.blocks.empty():  # what was heard before the prompt is not the take
            self.blocks.get_nowait()
        capture = _Capture()
        listener = Listener(capture)
        chunks: list[Any] = []
        samples = 0
        deadline = time.monotonic() + seconds + 1.0
        heard_until: float | None = None  # stream time the last utterance ended
        while time.monotonic() < deadline and samples < seconds * 16_000:
            try:
                block = self._block(timeout=1.0)
            except queue.Empty:
                continue
            chunks.append(block)
            samples += len(block)
            listener.feed(block)
            if capture.segments:
                heard_until = max(s.end for s in capture.segments.values())
            if heard_until is not None and samples / 16_000 - heard_until >= AFTER_SPEECH:
                break
        recording = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        stopped_early = heard_until is None and _loud_at_end(recording)
        return recording, stopped_early


def _loud_at_end(recording: Any) -> bool:
    """Speech (far above the recording's quietest) in its last 200 ms: cut off by the limit."""
    import numpy as np

    if len(recording) < 16_000:
        return False
    frames = recording[: len(recording) // 160 * 160].reshape(-1, 160).astype(np.float64)
    level = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1.0)
    return bool(level[-20:].mean() > np.percentile(level, 10) + 15.0)
