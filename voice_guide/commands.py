"""The spoken vocabulary: whole-utterance phrases mapped to commands.

Typed commands (`run --text`, `simulate --script`) and the recognizers share this one table, so
"go on" means the same thing whichever way it arrives.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Command(StrEnum):
    NEXT = "next"
    BACK = "back"
    REPEAT = "repeat"
    TIME_LEFT = "time_left"
    WHERE = "where"
    PAUSE = "pause"
    RESUME = "resume"
    SKIP = "skip"
    DETAILS = "details"
    HELP = "help"
    END = "end"
    YES = "yes"
    NO = "no"
    LIGHTER = "lighter"
    DEEPER = "deeper"
    GOOD = "good"
    NOTE = "note"  # "note tight left shoulder": the words after the phrase are the note
    READ_NOTES = "read_notes"
    START = "start"  # "start session": only while `serve` waits for the next session


PHRASES: dict[Command, tuple[str, ...]] = {
    Command.NEXT: ("next", "next step", "go", "go on", "continue", "forward", "ready"),
    Command.BACK: ("back", "go back", "previous", "backward"),
    Command.REPEAT: ("repeat", "say again", "again", "repeat that"),
    Command.TIME_LEFT: ("how long", "how much time", "time left", "how much longer"),
    Command.WHERE: ("where am i", "what step", "which step"),
    Command.PAUSE: ("pause", "stop", "wait", "hold on"),
    Command.RESUME: ("resume",),
    Command.SKIP: ("skip", "skip step"),
    Command.DETAILS: ("details", "explain", "tell me more"),
    Command.HELP: ("help", "what can i say"),
    Command.END: ("end session", "finish session"),
    Command.YES: ("yes",),
    Command.NO: ("no",),
    Command.LIGHTER: ("lighter", "softer", "less"),
    Command.DEEPER: ("deeper", "harder", "firmer"),
    Command.GOOD: ("good", "fine", "perfect", "that's good"),
    Command.NOTE: ("note", "make a note"),
    Command.READ_NOTES: ("read notes",),
    Command.START: ("start session",),
}

# Commands that work in every state of a session (the small global set users rely on).
GLOBAL_COMMANDS: frozenset[Command] = frozenset(
    {
        Command.NEXT,
        Command.BACK,
        Command.REPEAT,
        Command.TIME_LEFT,
        Command.WHERE,
        Command.PAUSE,
        Command.RESUME,
        Command.SKIP,
        Command.DETAILS,
        Command.HELP,
        Command.END,
        Command.NOTE,
        Command.READ_NOTES,
    }
)
CONFIRM_COMMANDS: frozenset[Command] = frozenset({Command.YES, Command.NO})
CLIENT_ANSWERS: frozenset[Command] = frozenset({Command.LIGHTER, Command.DEEPER, Command.GOOD})
ALL_COMMANDS: frozenset[Command] = frozenset(Command)
# The commands of a session's notes, and the one that starts a session in `serve`.
NOTE_COMMANDS: frozenset[Command] = frozenset({Command.NOTE, Command.READ_NOTES})
START_COMMANDS: frozenset[Command] = frozenset({Command.START})


def parse(utterance: str) -> Command | None:
    """The command an utterance means, or None. Only a whole utterance counts."""
    return _BY_PHRASE.get(normalize(utterance))


def read_words(words: str, accepts: frozenset[Command]) -> tuple[Command, str] | None:
    """What typed or spoken words mean now, as (command, the words as a phrase): a phrase of
    an accepted command, or, while the client's answer is awaited (`accepts` holds the
    answers), the client's own words ("a little deeper" -> DEEPER). None: no command. (A
    command not accepted now is still returned: the session decides what to do with it.)"""
    phrase = normalize(words)
    command = parse(phrase)
    if command is None and accepts >= CLIENT_ANSWERS:
        answer = client_answer(phrase)
        command = answer[0] if answer is not None else None
    return (command, phrase) if command is not None else None


def note_text(utterance: str) -> str | None:
    """The words of a note: what follows the note phrase ("note", "make a note") at the very
    beginning of the utterance, as said ("Note: knot under the right scapula." -> "knot under
    the right scapula"); "" for the phrase alone; None when the utterance does not begin with
    it (a note never comes from words in the middle of other talk)."""
    found = _NOTE_START.match(utterance)
    if found is None:
        return None
    return found.group("text").strip().rstrip(".").strip()


def note_phrase(utterance: str) -> str:
    """The note phrase an utterance begins with ("make a note" or "note"); "" for none."""
    found = _NOTE_START.match(utterance)
    return " ".join(found.group("phrase").lower().split()) if found else ""


def client_answer(utterance: str) -> tuple[Command, str] | None:
    """A client's answer to a pressure check-in in their own words, as (command, the word that
    decided it): "a little deeper" -> (DEEPER, "deeper"), "it's fine" -> (GOOD, "fine"),
    "too hard" -> (LIGHTER, "too hard"), "not enough" -> (DEEPER, "not enough"). A wish for a
    change wins over praise ("good, maybe lighter" -> LIGHTER); None when no answer word is
    there, or the answer asks both ways."""
    text = normalize(utterance)
    for pattern, command in _CHANGE_PATTERNS:
        found = re.search(pattern, text)
        if found:
            return command, found.group(0)
    words = text.split()
    changes = {ANSWER_WORDS[w] for w in words if ANSWER_WORDS.get(w) not in (None, Command.GOOD)}
    if len(changes) == 1:
        change = changes.pop()
        return change, next(w for w in words if ANSWER_WORDS.get(w) == change)
    if changes:
        return None  # "lighter or deeper": not an answer
    praise = [w for w in words if ANSWER_WORDS.get(w) == Command.GOOD]
    return (Command.GOOD, praise[0]) if praise else None


def phrases_for(commands: frozenset[Command] | set[Command]) -> list[str]:
    """Every phrase of the given commands, in table order (for grammars)."""
    return [p for command, phrases in PHRASES.items() if command in commands for p in phrases]


def could_become_another(phrase: str, commands: frozenset[Command] | set[Command]) -> bool:
    """True when a longer accepted phrase of another command begins with this one ("go" ->
    "go back"): heard after a short pause, it may be only the first word of that command.
    ("next" -> "next step" is the same command either way.)"""
    phrase = normalize(phrase)
    command = _BY_PHRASE.get(phrase)
    return any(p.startswith(phrase + " ") and _BY_PHRASE[p] != command
               for p in phrases_for(commands))


def normalize(utterance: str) -> str:
    """Lower case, apostrophes kept, other punctuation dropped, single spaces."""
    text = utterance.lower().replace("’", "'")
    text = re.sub(r"[^a-z' ]+", " ", text)
    return " ".join(text.split())


# Single words that answer "How is the pressure?" wherever they stand in a short answer.
ANSWER_WORDS: dict[str, Command] = {
    **{w: Command.LIGHTER for w in ("lighter", "softer", "less", "gentler", "lighten")},
    **{w: Command.DEEPER for w in ("deeper", "harder", "firmer", "more", "stronger")},
    # (not "right": said alone, as corpus speakers say it, it is a direction; 73 of 160 human
    # "right"s became "good" in an answer window, benchmarks.answers)
    **{w: Command.GOOD for w in ("good", "fine", "perfect", "great", "nice", "lovely",
                                 "okay", "ok")},
}
# Phrases whose words alone would mislead ("too hard" asks for less, "not enough" for more).
_CHANGE_PATTERNS: tuple[tuple[str, Command], ...] = (
    (r"\btoo (hard|much|deep|strong|firm|heavy|rough)\b", Command.LIGHTER),
    (r"\bnot (so|as) (hard|much|deep|strong|firm)\b", Command.LIGHTER),
    (r"\b(a bit|a little|bit|little) much\b", Command.LIGHTER),
    (r"\b(not (hard|deep|firm|strong) enough|not enough)\b", Command.DEEPER),
    (r"\btoo (light|soft|gentle)\b", Command.DEEPER),
)

# "note" or "make a note" as the first word(s), then the note (punctuation after the phrase
# dropped: a transcript writes "Note: ..." or "Make a note, ...").
_NOTE_START = re.compile(
    r"^\s*(?P<phrase>(?:make\s+a\s+)?note)(?![\w'])[\s,.:;!-]*(?P<text>.*)$",
    re.IGNORECASE | re.DOTALL,
)

_BY_PHRASE: dict[str, Command] = {
    phrase: command for command, phrases in PHRASES.items() for phrase in phrases
}
