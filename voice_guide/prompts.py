"""Every sentence the guide says (and the few words the status panel shows), in one module.

The protocol supplies everything about the massage itself (steps, cues, stations, the check-in
questions, the rest); this module holds the guide's own words around it, and the two ways
numbers of time are put into words:

- `minutes(seconds)`: time spoken in whole minutes, rounded half up ("less than a minute",
  "1 minute", "31 minutes"); `about_minutes` adds "about", `minutes_short` is the panel's
  "31 min". All three round the same way (`whole_minutes`).
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

from voice_guide.commands import Command
from voice_guide.progress import SessionStatus, Summary
from voice_guide.protocol import Script, Step

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
        answers = ", ".join(f"step {numbers.get(i, i)}: {a or 'no answer'}"
                            for i, a in summary.feedback)
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
    answers = [a for _, a in summary.feedback if a]
    if answers:
        text += f" The client asked for: {', '.join(answers)}."
    return text


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
    """Seconds spoken naturally: "less than a minute", "1 minute", "31 minutes"."""
    if seconds < 60:
        return "less than a minute"
    return count(whole_minutes(seconds), "minute")


def about_minutes(seconds: float) -> str:
    """ "about 31 minutes"; "less than a minute" needs no "about"."""
    spoken = minutes(seconds)
    return spoken if seconds < 60 else f"about {spoken}"


def minutes_short(seconds: float) -> str:
    """The panel's "31 min", "under 1 min", "0 min"."""
    if seconds <= 0:
        return "0 min"
    if seconds < 60:
        return "under 1 min"
    return f"{whole_minutes(seconds)} min"


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
