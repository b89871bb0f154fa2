"""The vocabulary's rules that the listener relies on."""

from __future__ import annotations

from voice_guide.commands import (
    ALL_COMMANDS,
    GLOBAL_COMMANDS,
    PHRASES,
    Command,
    could_become_another,
    parse,
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
