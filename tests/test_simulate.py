"""`simulate --script`: command scripts, the virtual clock and the JSON-lines event log."""

from __future__ import annotations

import io
import json
import os
import queue
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest

from voice_guide.cli import main
from voice_guide.events import ExitReason
from voice_guide.protocol import Script, load
from voice_guide.session import SessionSettings
from voice_guide.simulate import (
    CommandScriptError,
    ScriptedPhrase,
    load_command_script,
    parse_command_script,
    parse_seconds,
    simulate,
)

SCRIPTS = Path(__file__).parent / "scripts"
FULL = SCRIPTS / "full_session.txt"
REPO = Path(__file__).parent.parent


@cache
def real_script() -> Script:
    return load()


# --- command scripts ----------------------------------------------------------------------------


def test_parse_lines_comments_and_time_forms() -> None:
    text = "# header\n\n65 next\n  70   how long   # trailing comment\n1:15 say again\n1:01:05 go\n"
    assert parse_command_script(text, "s.txt") == [
        ScriptedPhrase(65.0, "next", 3),
        ScriptedPhrase(70.0, "how long", 4),
        ScriptedPhrase(75.0, "say again", 5),
        ScriptedPhrase(3665.0, "go", 6),
    ]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n   \n"])
def test_empty_scripts_are_fine(text: str) -> None:
    assert parse_command_script(text) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("65 next\n70\n", "s.txt:2: expected 'SECONDS PHRASE' (e.g. '65 next'), got '70'"),
        ("next 65\n", "s.txt:1: 'next' is not a time"),
        ("-5 next\n", "s.txt:1: '-5' is not a time"),
        ("nan next\n", "s.txt:1: 'nan' is not a time"),
        ("1:75 next\n", "s.txt:1: '1:75' is not a time"),
        ("# c\n65 next\n60 back\n", "s.txt:3: time 60 is earlier than the line before (65 s)"),
    ],
)
def test_bad_lines_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(CommandScriptError) as error:
        parse_command_script(text, "s.txt")
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandScriptError, match=r"nope\.txt: no such file"):
        load_command_script(tmp_path / "nope.txt")


@pytest.mark.parametrize(
    ("text", "seconds"), [("65", 65.0), ("65.5", 65.5), ("1:05", 65.0), ("2:00:00", 7200.0)]
)
def test_parse_seconds(text: str, seconds: float) -> None:
    assert parse_seconds(text) == seconds


# --- the simulated session ----------------------------------------------------------------------


def test_full_session_script_runs_the_whole_protocol() -> None:
    script = real_script()
    log = simulate(script, load_command_script(FULL))
    assert [r["index"] for r in log if r["type"] == "step"] == list(
        range(1, len(script.steps) + 1)
    )
    assert log[-1] == {"t": 3072.0, "type": "end", "reason": "completed"}
    times = [r["t"] for r in log]
    assert times == sorted(times)
    assert {"t": 95.0, "type": "unknown", "phrase": "hmm, let me see"} in log
    heard = [r for r in log if r["type"] == "heard"]
    assert {"command": "time_left", "phrase": "how long"}.items() <= heard[0].items()
    says = [r for r in log if r["type"] == "say"]
    assert {r["route"] for r in says} == {"practitioner", "room"}
    assert all(set(r) >= {"t", "type", "text", "route", "kind"} for r in says)
    # The answers in the script, in the client's own words, are relayed; "fine" got the
    # follow-up, answered once ("deeper please") and once not (the "fine" stands, unconfirmed).
    answers = [(r["index"], r["answer"]) for r in log if r["type"] == "feedback"]
    assert answers == [(4, "lighter"), (10, "deeper"), (15, "deeper"), (19, "deeper"),
                       (24, "fine"), (29, "good")]
    checkins = [(r["t"], r["index"], r["reason"]) for r in log if r["type"] == "checkin"]
    assert (857.0, 10, "interval") in checkins  # 8 minutes of hands-on time, mid-move
    follow_ups = [(r["t"], r["text"]) for r in log if r.get("kind") == "checkin_follow_up"]
    assert follow_ups == [(1620.0, "Would you like it lighter or deeper?"),
                          (2058.0, "Would you like it lighter or deeper?")]
    assert {"t": 2068.8, "type": "feedback", "answer": "fine", "index": 24,
            "unconfirmed": True} in log
    # Not understood during a check-in: the practitioner is told, the client hears nothing.
    unclear = [r for r in log if r["t"] == 2486.0]
    assert [r["type"] for r in unclear] == ["unknown", "unclear_answer", "say"]
    assert unclear[-1]["route"] == "practitioner"
    assert {"pause", "resume", "rest", "checkin"} <= {r["type"] for r in log}
    json.dumps(log)  # JSON-ready as is


def test_same_script_same_log() -> None:
    phrases = load_command_script(FULL)
    assert simulate(real_script(), phrases) == simulate(real_script(), phrases)


def test_pause_in_the_script_shifts_the_step_clock() -> None:
    # Step 7 starts at 469 and runs 90 s; 60 s of pause (499-559) moves its time-up to 619.
    log = simulate(real_script(), load_command_script(FULL))
    time_up_7 = [r["t"] for r in log if r["type"] == "time_up" and r["index"] == 7]
    assert time_up_7 == [469 + 90 + 60]


def test_until_stops_the_clock_and_ignores_later_lines() -> None:
    phrases = load_command_script(FULL)
    log = simulate(real_script(), phrases, until=400)
    assert log[-1]["t"] <= 400
    assert max(r["index"] for r in log if r["type"] == "step") == 6
    assert not any(r["type"] == "end" for r in log)
    assert log[-1] == {"t": 400.0, "type": "exit", "reason": "eof"}  # as `run` at end of input
    full = simulate(real_script(), phrases)
    assert full[: len(log) - 1] == log[:-1]


def test_until_runs_the_clock_past_the_last_line() -> None:
    phrases = [ScriptedPhrase(10, "how long", 1)]
    log = simulate(real_script(), phrases, until=1000)
    assert [r["t"] for r in log if r["type"] == "time_up"] == [90.0]
    auto = simulate(real_script(), phrases, settings=SessionSettings(auto=True), until=1000)
    steps = [r for r in auto if r["type"] == "step"]
    assert steps[-1]["t"] <= 1000 < steps[-1]["t"] + real_script().steps[len(steps) - 1].seconds


def test_auto_without_lines_runs_to_the_end() -> None:
    log = simulate(real_script(), [], settings=SessionSettings(auto=True))
    script = real_script()
    assert len([r for r in log if r["type"] == "step"]) == len(script.steps)
    assert log[-1] == {
        "t": float(script.total_seconds + script.rest.seconds), "type": "end",
        "reason": "completed",
    }


def test_prep_reads_the_checklist_first() -> None:
    script = real_script()
    lines = [ScriptedPhrase(float(k), "next", k) for k in range(1, len(script.preparation) + 1)]
    log = simulate(script, lines, prep=True)
    prep = [r["text"] for r in log if r["type"] == "say" and r["kind"] == "prep"]
    assert prep == list(script.preparation)
    first_step = next(r for r in log if r["type"] == "step")
    assert first_step["t"] == len(script.preparation)


def test_ended_early_script() -> None:
    script = real_script()
    log = simulate(script, load_command_script(SCRIPTS / "ended_early.txt"))
    confirms = [(r["t"], r["state"]) for r in log if r["type"] == "confirm"]
    assert confirms == [(70.0, "asked"), (72.0, "cancelled"), (80.0, "asked")]
    (where,) = [r["text"] for r in log if r["t"] == 72.0 and r["type"] == "say"]
    assert where.startswith("Step 2 of 22")
    # Ended early: said so, with the step, and the client still gets the rest and the water.
    assert [r for r in log if r["t"] == 81.0][1:] == [
        {"t": 81.0, "type": "ended_early", "index": 2, "number": 2},
        {"t": 81.0, "type": "say", "route": "practitioner", "kind": "ended",
         "text": "Session ended early, at step 2 of 22. Now the client's rest; say skip to "
                 "end it."},
        {"t": 81.0, "type": "rest", "seconds": 180.0},
        {"t": 81.0, "type": "say", "text": script.rest.say, "route": "room", "kind": "rest"},
    ]
    assert log[-4:] == [
        {"t": 261.0, "type": "say", "text": script.rest.closing, "route": "practitioner",
         "kind": "closing"},
        # The closing summary, as `run` says and journals it, just before the end.
        {"t": 261.0, "type": "say", "route": "practitioner", "kind": "summary",
         "text": "Session ended early, at step 2: 2 steps, 2 moves in about 4 minutes."},
        {"t": 261.0, "type": "end", "reason": "ended"},
        # Heard after the end: logged, nothing happens.
        {"t": 300.0, "type": "heard", "command": "next", "phrase": "next", "confidence": 1.0},
    ]
    assert "glass of water" in script.rest.closing


TO_STEP_5 = [ScriptedPhrase(t, "next", k) for k, t in enumerate((90, 150, 225, 315), start=1)]
# "It's fine" and "fine thanks" are answers too; they get the follow-up question.
OWN_WORDS = [("a little deeper", "deeper"), ("deeper please", "deeper"), ("more", "deeper"),
             ("harder please", "deeper"), ("that's perfect", "good"), ("too hard", "lighter"),
             ("it's fine", None), ("fine thanks", None)]


@pytest.mark.parametrize(("phrase", "answer"), OWN_WORDS)
def test_the_client_answers_in_their_own_words(phrase: str, answer: str | None) -> None:
    asked = 315 + 1  # the check-in after step 4
    lines = [*TO_STEP_5, ScriptedPhrase(asked, phrase, 5)]
    log = simulate(real_script(), lines, until=400)
    heard = [r for r in log if r["type"] == "heard"][-1]
    assert heard["phrase"] == phrase
    if answer is None:  # "fine" in any words: lighter or deeper?
        assert [r["type"] for r in log if r["t"] == asked][1:] == ["follow_up", "say"]
    else:
        assert {"t": asked, "type": "feedback", "answer": answer, "index": 4} in log
    assert not any(r["type"] in ("unknown", "unclear_answer") for r in log)


def test_fine_with_no_answer_to_the_follow_up_stays_fine_unconfirmed(tmp_path: Path) -> None:
    """Issue 20, 2: "fine" may hide discomfort; with the follow-up unanswered it is kept as it
    was in the journal, the spoken summary, the printed one and `history`, never "good"."""
    from voice_guide.cli.history import session_json, session_line
    from voice_guide.journal import read_journal

    asked = 315 + 1  # the check-in after step 4
    lines = [*TO_STEP_5, ScriptedPhrase(asked, "fine", 5),
             ScriptedPhrase(400, "end session", 6), ScriptedPhrase(401, "yes", 7),
             ScriptedPhrase(402, "skip", 8)]  # nothing said after the follow-up
    log = simulate(real_script(), lines)
    feedback = [r for r in log if r["type"] == "feedback"]
    assert feedback == [{"t": feedback[0]["t"], "type": "feedback", "answer": "fine", "index": 4,
                         "unconfirmed": True}]
    summary = [r["text"] for r in log if r.get("kind") == "summary"]
    assert summary and "Pressure: fine, with no answer to the follow-up." in summary[0]
    assert "good" not in summary[0]
    journal = tmp_path / "session.jsonl"
    journal.write_text("".join(json.dumps(r) + "\n" for r in log))
    read = read_journal(journal, warn=False)
    assert f"feedback: fine (unconfirmed)  {journal}" in session_line(read)
    assert session_json(read)["feedback"] == [{"index": 4, "answer": "fine", "unconfirmed": True}]


def test_own_words_outside_a_check_in_are_not_commands() -> None:
    log = simulate(real_script(), [ScriptedPhrase(10, "a little deeper", 1)], until=20)
    assert {"t": 10.0, "type": "unknown", "phrase": "a little deeper"} in log
    assert not any(r["type"] == "unclear_answer" for r in log)


def test_simulated_answer_window_starts_after_the_question_is_said() -> None:
    # 8 s after the question's estimated end (4 words at 150 a minute): 315 + 1.6 + 8.
    lines = [*TO_STEP_5, ScriptedPhrase(324.5, "deeper please", 5)]
    log = simulate(real_script(), lines, until=400)
    assert {"t": 324.5, "type": "feedback", "answer": "deeper", "index": 4} in log
    late = simulate(real_script(), [*TO_STEP_5, ScriptedPhrase(324.7, "deeper", 5)], until=400)
    assert {"t": 324.6, "type": "feedback", "answer": None, "index": 4} in late


# --- the command line ---------------------------------------------------------------------------


def test_cli_prints_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--script", str(FULL)]) == 0
    out = capsys.readouterr().out
    records = [json.loads(line) for line in out.splitlines()]
    assert records == simulate(real_script(), load_command_script(FULL))


def test_cli_options(capsys: pytest.CaptureFixture[str]) -> None:
    script_file = SCRIPTS / "auto_with_pause.txt"
    assert main(["simulate", "--script", str(script_file), "--auto", "--prep", "--until", "5"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("kind", r["type"]) for r in records[:2]] == ["welcome", "prep"]
    assert all(r["t"] <= 5 for r in records)
    assert main(["simulate", "--script", str(script_file), "--auto"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    first_time_up = next(r for r in records if r["type"] == "time_up")
    assert first_time_up["t"] == 90.0  # step 1 ran 90 s before the pause
    second = [r for r in records if r["type"] == "step"][2]
    assert second["t"] == 150.0 + 60.0  # step 2 (60 s) started at 90 and was paused 100-160
    assert records[-1]["type"] == "end"


def test_cli_bad_script_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("10 next\nlater go on\n", encoding="utf-8")
    assert main(["simulate", "--script", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"voice-guide: {bad}:2: 'later' is not a time; expected seconds since the start "
        "(65, 65.5 or 1:05)\n"
    )


def test_cli_bad_protocol_and_missing_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(tmp_path / "x.yaml"), "--script", str(FULL)]) == 2
    assert "x.yaml: no such file" in capsys.readouterr().err
    assert main(["simulate"]) == 2
    assert "needs --script" in capsys.readouterr().err
    assert main(["simulate", "--audio", str(tmp_path / "take.wav")]) == 2
    assert "take.wav: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["simulate", "--script", str(FULL), "--until", "soon"])


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "voice_guide", "simulate", "--script", str(FULL)],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
    )
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records == simulate(real_script(), load_command_script(FULL))


# --- the same Guide as `run`: typed words, a question played out, and the journal ---------------


def new_guide(tmp_path: Path, speech_factory=None):
    from voice_guide.guide import Guide, PrintedSpeech
    from voice_guide.journal import JournalWriter, make_header
    from voice_guide.session import Session
    from voice_guide.status import StatusPanel

    script = real_script()
    header = make_header(protocol=script.source or FULL, protocol_name=script.name,
                         settings={}, prep=False, mode="text")
    journal = JournalWriter.create(tmp_path / "s.jsonl", header)
    panel = StatusPanel(io.StringIO(), tty=False)
    speech = speech_factory(panel) if speech_factory else PrintedSpeech(panel)
    return Guide(Session(script), journal, speech, panel)


def test_typed_answers_in_own_words_and_not_understood_in_a_live_session(tmp_path: Path) -> None:
    guide = new_guide(tmp_path)
    guide.open(0.0, prep=False)
    assert not guide.phrase("a little deeper", 10)  # no check-in: not a command ("say help")
    for t in (90, 150, 225, 315):
        assert guide.phrase("next", t)
    assert guide.phrase("well it's hard to say", 316)  # the client's, not understood
    assert guide.phrase("A  little deeper", 317)
    records = [r for r in guide.records if r["t"] >= 316]
    assert [(r["type"], r.get("route")) for r in records if r["t"] == 316] == [
        ("unknown", None), ("unclear_answer", None), ("say", "practitioner")
    ]  # nothing said to the room
    assert {"t": 317.0, "type": "feedback", "answer": "deeper", "index": 4} in records
    heard = [r for r in records if r["type"] == "heard"]
    assert heard[-1]["command"] == "deeper" and heard[-1]["phrase"] == "a little deeper"
    guide.close(320.0, ExitReason.EOF)


def test_a_played_question_starts_the_answer_window_in_a_live_session(tmp_path: Path) -> None:
    from voice_guide.guide import SpeakerSpeech
    from voice_guide.speak.player import Utterance

    class Speaker:  # the player's side: a real Utterance, played out when the test says so
        def __init__(self) -> None:
            self.queued: list[Utterance] = []

        def say(self, say, now):
            self.queued.append(Utterance(say.text, say.route, pcm=None))
            return self.queued[-1]

    speaker, played = Speaker(), queue.Queue()
    guide = new_guide(tmp_path, lambda panel: SpeakerSpeech(panel, speaker, played.put))
    guide.open(0.0, prep=False)
    for t in (90, 150, 225, 315):
        guide.phrase("next", t)
    (question,) = [u for u in speaker.queued if u.text == "How is the pressure?"]
    question._finish("played", time.monotonic())
    said = played.get(timeout=5)  # told on the player's side, from its own thread
    assert said.kind == "checkin"
    guide.played(said, 321.0)  # a question that waited 6 s behind other speech
    assert {"t": 321.0, "type": "spoken", "kind": "checkin"} in guide.records
    assert guide.session.next_deadline() == 329.0  # 8 s from its end, not from 315
    assert guide.phrase("deeper", 328.5)
    assert guide.records[-1] == {"t": 328.5, "type": "feedback", "answer": "deeper", "index": 4}
    guide.close(330.0, ExitReason.EOF)


def test_the_log_is_what_run_journals_for_the_same_typed_phrases(tmp_path: Path) -> None:
    """A real `run --text --silent` process; then `simulate` with its phrases at the times the
    journal says they were heard, to the time it exited: the same records, welcome, unknown
    phrase and exit included. Only the live loop's heartbeats are its own."""
    journal = tmp_path / "s.jsonl"
    typed = "next\nhmm let me see\nWhere  am I\nhow long\n"
    done = subprocess.run(
        [sys.executable, "-m", "voice_guide", "run", "--text", "--silent", "--skip-prep",
         "--journal", str(journal)],
        input=typed, cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")},
    )
    assert done.returncode == 0, done.stderr
    from voice_guide.journal import read_journal

    journaled = [r for r in read_journal(journal, warn=False).records if r["type"] != "clock"]
    inputs = [r for r in journaled if r["type"] in ("heard", "unknown")]
    assert [r["phrase"] for r in inputs] == ["next", "hmm let me see", "where am i", "how long"]
    phrases = [ScriptedPhrase(r["t"], r["phrase"], k) for k, r in enumerate(inputs, start=1)]
    simulated = simulate(real_script(), phrases, until=journaled[-1]["t"])
    assert simulated == journaled
    assert simulated[0]["kind"] == "welcome" and simulated[-1]["reason"] == "eof"
