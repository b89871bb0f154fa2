"""Every sentence the guide says (and the few words the status panel shows), in one module.

The protocol supplies everything about the massage itself (steps, cues, stations, the check-in
questions, the rest); this module holds the guide's own words around it, and the two ways
numbers of time are put into words:

- `minutes(seconds)`: time spoken in whole minutes, rounded half up ("less than a minute",
  "1 minute", "31 minutes", from an hour on "8 hours 21 minutes"); `about_minutes` adds
  "about", `minutes_short` is the panel's "31 min", "8 h 21 min". All three round the same way
  (`whole_minutes`).
- `clock(seconds)`: `m:ss` (`h:mm:ss` past an hour), rounded half up to the whole second, for
  every printed time (panel, summary, history, check).

For the wiring around the session:

- `known_texts(script)`: the texts to render ahead for a Script, most urgent first. The fixed
  sentences in it come from this module's own registry (every sentence defined with `_ahead`),
  so a new sentence is rendered ahead by being defined here, not by being listed somewhere else.
- `resume_text(status)`: what the practitioner hears when a session is resumed.
- `WELCOME`, `summary_lines(summary)`, `summary_speech(summary)`: the opening and closing words
  of every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from voice_guide.commands import Command
from voice_guide.progress import SessionStatus, Summary
from voice_guide.protocol import LONG_SESSION_SECONDS, Script, Step

if TYPE_CHECKING:  # only for annotations
    from voice_guide.events import Feedback, NoteTaken

# The fixed sentences worth rendering ahead, in the order they are defined (most urgent first).
_RENDERED_AHEAD: list[str] = []


def _ahead(text: str) -> str:
    """Register `text` as a fixed sentence to render ahead (see `known_texts`)."""
    _RENDERED_AHEAD.append(text)
    return text


# --- Opening --------------------------------------------------------------------------------------

WELCOME = "Welcome to Voice Guide. Say help at any time to hear what you can say."
PREP_INTRO = _ahead(
    "Preparation checklist. Say next after each item, or skip to skip the checklist."
)

# --- Pausing --------------------------------------------------------------------------------------

PAUSED = _ahead("Paused. Say resume when ready.")
RESUMING = _ahead("Resuming.")
ALREADY_PAUSED = _ahead("Already paused. Say resume when ready.")
NOT_PAUSED = _ahead("Not paused.")

# --- Moving through the steps ---------------------------------------------------------------------

TIME_UP = _ahead("Time is up for this step. Say next when ready.")
FIRST_STEP = _ahead("You are at the first step.")
FIRST_ITEM = _ahead("This is the first item.")
# Asked for rarely: rendered when said.
NO_STEP_DETAILS = "There are no more details for this step."
NO_PREP_DETAILS = "There are no more details for this item."

# --- Ending ---------------------------------------------------------------------------------------

CONFIRM_END = _ahead("End the session now? Say yes or no.")
CONFIRM_DECLINED = _ahead("Carrying on.")
CONFIRM_LAPSED = _ahead("Not ending. Carrying on.")
NOTHING_TO_CONFIRM = _ahead("There is nothing to answer yes or no to.")
# Said once at most, when a session is ended during the checklist: rendered when said.
ENDED_IN_PREP = "Session ended before the first step."

# --- Check-ins (the question itself is the protocol's) --------------------------------------------

CHECKIN_HINT = _ahead("Checking in with the client on pressure.")
RELAY = {  # the client's answer, told to the practitioner
    Command.LIGHTER: _ahead("Client would like lighter pressure."),
    Command.DEEPER: _ahead("Client would like deeper pressure."),
    Command.GOOD: _ahead("Client says the pressure is good."),
}
ANSWER_UNCLEAR = _ahead("The client's answer was not understood.")

# --- Help -----------------------------------------------------------------------------------------

HELP_STEPS = _ahead(
    "Say next, back, repeat, skip, details, where am I, how long, pause, or end session."
)
HELP_PAUSED = _ahead("Paused. Say resume to carry on, or end session.")
HELP_PREP = _ahead("Say next for the next item, back, repeat, or skip to skip the checklist.")
HELP_REST = _ahead("Resting. Say how long, skip to finish the rest now, or end session.")
HELP_CONFIRM = _ahead("Say yes to end the session, or no to carry on.")

# --- Notes (the practitioner route only) ----------------------------------------------------------

NOTED = _ahead("Noted.")
NOTE_EMPTY = _ahead("Say note, then the note, in one go.")

# --- Between sessions (`serve`) -------------------------------------------------------------------

SERVE_WAITING = _ahead("Ready. Say start session when the client is on the table.")
SERVE_NEXT = _ahead("Say start session for the next client.")
SESSION_NOT_STARTED = "The session could not be started; the screen says why."

# --- Trouble at the edges (rare: rendered when said) ----------------------------------------------

MIC_LOST = "The microphone stopped working; listening is paused until it is back."
MIC_FALLBACK = "The microphone stopped working; listening on the default microphone now."
MIC_BACK = "The microphone is back; listening again."
JOURNAL_NOT_SAVED = (
    "The session journal cannot be saved, so after a crash this session could not be "
    "resumed. The session goes on."
)

# --- The status panel's flags: what to say now, shown ---------------------------------------------

FLAG_PAUSED = "PAUSED - say resume"
FLAG_CONFIRM_END = "END SESSION?  say yes or no"
FLAG_CLIENT_ANSWER = "waiting for the client: lighter / deeper / good"
# The microphone is muted while the guide can hear itself: a command said then is not heard.
WAITS_FOR_ROOM = "listening waits for the room speaker"
WAITS_FOR_SPEECH = "listening waits while the guide speaks aloud"  # no earbuds: both routes


# --- Texts built from the protocol and the session ------------------------------------------------


def step_text(step: Step) -> str:
    """The step's instruction with its safety and technique cues, as one utterance."""
    return " ".join(part.strip() for part in (step.say, *step.cues) if part.strip())


def where_text(step: Step, last_number: int) -> str:
    """"Where am I" during the steps: seed step numbers, as on the written protocol."""
    text = f"Step {step.number} of {last_number}"
    if step.origin != step.number:
        text += f", repeating step {step.origin}"
    text += f": {_sentence(step.title)}"
    if step.side:
        text += f" {step.side.capitalize()} side of the back."
    return text + f" {_sentence(step.station.announce)}"


def prep_where_text(item: int, count: int) -> str:
    """"Where am I" during the checklist (`item` 1-based)."""
    return f"Preparation, item {item} of {count}."


def prep_time_text(massage_seconds: float) -> str:
    """"How long" during the checklist: how long the massage will take."""
    return f"Preparation. The massage takes {minutes(massage_seconds)}."


def step_time_text(step_left: float, session_left: float) -> str:
    """"How long" during a move: its time left (or that it is up), and the session's."""
    if step_left <= 0:
        return (f"This step's time is up. {_capital(about_minutes(session_left))}"
                " left in the session.")
    return (f"{_capital(about_minutes(step_left))} left in this step, "
            f"{minutes(session_left)} in the session.")


def rest_left_text(seconds: float) -> str:
    """What every question about the rest is answered with."""
    return f"Resting. {_capital(about_minutes(seconds))} of rest left."


def ended_early_text(number: int, last: int) -> str:
    """A confirmed end during the steps: the step it happened at, and what comes now."""
    return (f"Session ended early, at step {number} of {last}. Now the client's rest; "
            "say skip to end it.")


def resume_text(status: SessionStatus) -> str:
    """What the practitioner hears when a session is resumed from its journal."""
    if status.phase == "steps" and status.step is not None:
        step = status.step
        # Seed step numbers, as on the written protocol and in "where am I".
        repeating = f", repeating step {step.origin}" if step.origin != step.number else ""
        text = f"Welcome back. Resuming at step {step.number}{repeating}: {step.title}."
    elif status.phase == "rest":
        text = "Welcome back. Resuming the rest period."
    elif status.phase == "prep":
        text = "Welcome back. Resuming the preparation checklist."
    else:
        text = "Welcome back."
    if status.paused:
        text += " The session is paused. Say resume to continue."
    return text


def notes_text(notes: Sequence[NoteTaken]) -> str:
    """"read notes": this session's notes, each with where it was taken."""
    if not notes:
        return "No notes in this session yet."
    said = " ".join(f"{_capital(note_place(note))}: {_sentence(note.text)}" for note in notes)
    return f"{count(len(notes), 'note')}. {said}"


def note_place(note: NoteTaken) -> str:
    """Where a note was taken: "step 5, move 7", "the checklist", "the rest"."""
    if note.phase == "prep":
        return "the checklist"
    if note.phase == "rest":
        return "the rest"
    return f"step {note.number}, move {note.index}"


def recap_text(
    client: str, started: datetime | None, now: datetime,
    changes: Sequence[tuple[str | None, str]], good: bool, notes: Sequence[tuple[str, str]],
) -> str:
    """The recap of a client's last session, at the start of the next one (the practitioner
    route): when it was, the pressure asked for and during which move, its notes. `changes`:
    (lighter or deeper, the move); `good`: the client said the pressure was good at least once;
    `notes`: (where, the note)."""
    text = f"Last session with {client}: {_day(started, now)}."
    if changes:
        text += " " + "; ".join(f"{_capital(str(answer))} pressure asked for during {move}"
                                for answer, move in changes) + "."
    elif good:
        text += " The pressure was good."
    else:
        text += " No pressure asked for."
    if notes:
        text += " " + " ".join(f"Note, {where}: {_sentence(note)}" for where, note in notes)
    else:
        text += " No notes."
    return text


def _day(started: datetime | None, now: datetime) -> str:
    """"today at 14:05", "yesterday at 9:30", "on Tuesday 1 December"."""
    if started is None:
        return "date unknown"
    days = (now.date() - started.date()).days
    at = f"{started.hour}:{started.minute:02d}"
    if days == 0:
        return f"today at {at}"
    if days == 1:
        return f"yesterday at {at}"
    year = f" {started.year}" if started.year != now.year else ""
    return f"on {started:%A} {started.day} {started:%B}{year}"


def unfinished_text(index: int, total: int) -> str:
    """What `serve` offers at its start when a session was cut off (a crash, a power cut)."""
    return (f"An unfinished session at move {index} of {total}. Say resume, or start session "
            "for a new one.")


def known_texts(script: Script) -> list[str]:
    """Everything the guide can say that is known in advance, most urgent first, each once:
    rendered ahead in the background so a prompt starts the moment it is asked for (and kept
    on disk by `run`, so the next start renders none of them). Last, each step's "where am I"
    answer and its details. Sentences built from the clock ("how long", the summary) and the
    rare ones (not registered with `_ahead`) are rendered when said."""
    first, *rest = script.steps
    texts = [WELCOME, script.opening, *script.preparation, first.station.announce,
             step_text(first), *_RENDERED_AHEAD,
             script.checkins.question, script.checkins.follow_up or ""]
    for step in rest:
        texts += [step.station.announce, step_text(step)]
    texts += [script.rest.say, script.rest.closing]
    last_number = max(step.number for step in script.steps)
    texts += [where_text(step, last_number) for step in script.steps]
    texts += [step.details.strip() for step in script.steps]
    return list(dict.fromkeys(text for text in texts if text))


# --- The closing summary --------------------------------------------------------------------------


def summary_lines(summary: Summary) -> list[str]:
    """The closing summary as short printed lines."""
    lines = [f"Total time: {clock(summary.total_seconds)} ({done_text(summary)})"]
    if summary.ended_early_at is not None:
        lines.append(f"Ended early, at step {summary.ended_early_at}")
    for step in summary.steps:
        lines.append(f"  move {step.index:>2} (step {step.number}): {clock(step.seconds)}")
    numbers = {step.index: step.number for step in summary.steps}
    if summary.feedback:
        answers = ", ".join(f"step {numbers.get(f.index, f.index)}: {answer_text(f)}"
                            for f in summary.feedback)
        lines.append(f"Pressure feedback: {answers}")
    else:
        lines.append("Pressure feedback: none asked")
    return lines


def summary_speech(summary: Summary) -> str:
    """The closing summary, short enough to say aloud."""
    if summary.ended_early_at is not None:
        opening = f"Session ended early, at step {summary.ended_early_at}:"
    elif summary.end_reason == "ended":
        opening = "Session ended:"
    else:
        opening = "Session complete."
    text = f"{opening} {done_text(summary)} in {about_minutes(summary.total_seconds)}."
    answers = [answer_text(f, spoken=True) for f in summary.feedback if f.answer]
    if answers:
        text += f" Pressure: {'; '.join(answers)}."
    return text


def answer_text(feedback: Feedback, *, spoken: bool = False) -> str:
    """A check-in's answer as a person would put it: "deeper", "no answer", and a "fine" whose
    follow-up went unanswered kept as such: "fine (unconfirmed)" (said: "fine, with no answer
    to the follow-up"), never "good": it may hide discomfort."""
    if feedback.answer is None:
        return "no answer"
    if feedback.unconfirmed:
        return (f"{feedback.answer}, with no answer to the follow-up" if spoken
                else f"{feedback.answer} (unconfirmed)")
    return feedback.answer


def done_text(summary: Summary) -> str:
    """"3 steps, 4 moves": the numbered steps worked and the moves of the script they made."""
    steps = len({step.number for step in summary.steps})
    return f"{count(steps, 'step')}, {count(len(summary.steps), 'move')}"


# --- Numbers in words -----------------------------------------------------------------------------


def whole_minutes(seconds: float) -> int:
    """Seconds as whole minutes, rounded half up (90 s is 2 minutes): the one rounding of
    every minute said or shown."""
    return int(max(0.0, seconds) / 60 + 0.5)


def minutes(seconds: float) -> str:
    """Seconds spoken naturally: "less than a minute", "1 minute", "31 minutes"; from an hour
    on in hours and minutes: "1 hour", "8 hours 21 minutes"."""
    if seconds < 60:
        return "less than a minute"
    hours, mins = divmod(whole_minutes(seconds), 60)
    if not hours:
        return count(mins, "minute")
    return count(hours, "hour") + (f" {count(mins, 'minute')}" if mins else "")


def about_minutes(seconds: float) -> str:
    """ "about 31 minutes"; "less than a minute" needs no "about"."""
    spoken = minutes(seconds)
    return spoken if seconds < 60 else f"about {spoken}"


def minutes_short(seconds: float) -> str:
    """The panel's "31 min", "under 1 min", "0 min", "1 h 5 min"."""
    if seconds <= 0:
        return "0 min"
    if seconds < 60:
        return "under 1 min"
    hours, mins = divmod(whole_minutes(seconds), 60)
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def long_session_warning(script: Script) -> str | None:
    """A protocol longer than any massage session (`LONG_SESSION_SECONDS`) is most likely a
    mistake (minutes written as seconds, a repeat too wide): said, though it may be run."""
    total = script.total_seconds + script.rest.seconds
    if total <= LONG_SESSION_SECONDS:
        return None
    where = f"{script.source}: " if script.source is not None else ""
    steps = len({step.number for step in script.steps})
    return (f"{where}{count(steps, 'step')}, {count(len(script.steps), 'move')}: the session "
            f"takes {minutes(total)} with the rest, longer than "
            f"{minutes(LONG_SESSION_SECONDS)}; check the seconds of its steps and its repeats")


def clock(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` past an hour, rounded half up to the whole second (so float sums
    of durations, 314.9999 s, show as the time they stand for, 5:15)."""
    whole = int(max(0.0, seconds) + 0.5)
    hours, rest = divmod(whole, 3600)
    mins, secs = divmod(rest, 60)
    return f"{hours}:{mins:02d}:{secs:02d}" if hours else f"{mins}:{secs:02d}"


def count(n: int, noun: str) -> str:
    """ "1 step", "3 steps"."""
    return f"{n} {noun}{'s' * (n != 1)}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
