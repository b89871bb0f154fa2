"""The vocabulary's rules that the listener relies on."""

from __future__ import annotations

import pytest

from voice_guide.commands import (
    ALL_COMMANDS,
    CLIENT_ANSWERS,
    GLOBAL_COMMANDS,
    PHRASES,
    Command,
    could_become_another,
    parse,
    read_words,
)


def test_only_go_can_still_become_another_command() -> None:
    """Heard after a short pause, "go" may be the start of "go back"; every other phrase
    decides its command already ("next" and "next step" are both next)."""
    waiting = [p for phrases in PHRASES.values() for p in phrases
               if could_become_another(p, ALL_COMMANDS)]
    assert waiting == ["go"]
    assert not could_become_another("next", ALL_COMMANDS)
    assert not could_become_another("repeat", ALL_COMMANDS)


def test_what_can_follow_depends_on_what_is_accepted() -> None:
    assert could_become_another("go", GLOBAL_COMMANDS)
    assert not could_become_another("go", frozenset({Command.NEXT, Command.RESUME}))
    assert not could_become_another("Go", frozenset())


def test_parse_takes_whole_utterances_only() -> None:
    assert parse("Go back!") is Command.BACK
    assert parse("go back now") is None
    assert parse("That’s good") is Command.GOOD


@pytest.mark.parametrize(("words", "meant"), [
    ("a little deeper", Command.DEEPER), ("Deeper, please.", Command.DEEPER),
    ("not enough", Command.DEEPER), ("too hard", Command.LIGHTER),
    ("That's a bit much.", Command.LIGHTER), ("it's fine", Command.GOOD),
    ("lighter or deeper", None), ("I had a busy week", None), ("much better", None),
])
def test_the_clients_own_words_are_read_only_while_an_answer_is_awaited(words, meant) -> None:
    reading = read_words(words, GLOBAL_COMMANDS | CLIENT_ANSWERS)
    assert (reading[0] if reading else None) == meant
    assert read_words(words, GLOBAL_COMMANDS) is None  # no answer awaited: no command at all


def test_a_phrase_is_read_as_its_command_in_any_state() -> None:
    assert read_words("Next step.", GLOBAL_COMMANDS) == (Command.NEXT, "next step")
    assert read_words("yes", GLOBAL_COMMANDS | CLIENT_ANSWERS) == (Command.YES, "yes")
