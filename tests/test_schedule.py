"""The scheduler: real and pause-aware active timers on an injected clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voice_guide.schedule import Due, Schedule


def test_real_timer_falls_due_at_its_deadline() -> None:
    schedule = Schedule(start=100.0)
    schedule.set_real("answer", 8.0, now=110.0)
    assert schedule.next_deadline() == 118.0
    assert schedule.pop_due(117.9) is None
    assert schedule.pop_due(500.0) == Due("answer", 118.0)
    assert schedule.pop_due(500.0) is None
    assert schedule.next_deadline() is None


def test_active_clock_excludes_paused_spans() -> None:
    schedule = Schedule(start=10.0)
    assert schedule.active(40.0) == 30.0
    schedule.pause(40.0)
    assert schedule.paused
    assert schedule.active(100.0) == 30.0
    schedule.resume(100.0)
    assert schedule.active(110.0) == 40.0


def test_active_timer_freezes_while_paused_and_shifts_by_the_pause() -> None:
    schedule = Schedule(start=0.0)
    schedule.set_active("step", 60.0, now=0.0)
    schedule.pause(20.0)
    assert schedule.deadline("step") is None
    assert schedule.next_deadline() is None
    assert schedule.pop_due(1000.0) is None
    assert schedule.left("step", 500.0) == 40.0
    schedule.resume(50.0)  # 30 s paused
    assert schedule.deadline("step") == 90.0
    assert schedule.pop_due(1000.0) == Due("step", 90.0)


def test_real_timer_keeps_running_while_paused() -> None:
    schedule = Schedule(start=0.0)
    schedule.set_real("confirm", 10.0, now=5.0)
    schedule.pause(6.0)
    assert schedule.pop_due(15.0) == Due("confirm", 15.0)


def test_pause_and_resume_twice_change_nothing() -> None:
    schedule = Schedule(start=0.0)
    schedule.pause(10.0)
    schedule.pause(20.0)
    assert schedule.active(30.0) == 10.0
    schedule.resume(30.0)
    schedule.resume(40.0)
    assert schedule.active(50.0) == 30.0


def test_earliest_first_and_ties_by_priority() -> None:
    schedule = Schedule(start=0.0, priority=("confirm", "answer", "step"))
    schedule.set_active("step", 10.0, now=0.0)
    schedule.set_real("answer", 5.0, now=5.0)
    schedule.set_real("confirm", 3.0, now=7.0)
    schedule.set_real("later", 1.0, now=20.0)
    assert [schedule.pop_due(100.0) for _ in range(5)] == [
        Due("confirm", 10.0), Due("answer", 10.0), Due("step", 10.0), Due("later", 21.0), None,
    ]


def test_rearming_and_cancelling() -> None:
    schedule = Schedule(start=0.0)
    schedule.set_real("t", 5.0, now=0.0)
    schedule.set_active("t", 50.0, now=0.0)  # the same name moves to the active clock
    assert schedule.pending("t")
    assert schedule.next_deadline() == 50.0
    schedule.cancel("t")
    assert not schedule.pending("t")
    assert schedule.left("t", 0.0) is None
    schedule.set_real("a", 1.0, now=0.0)
    schedule.set_active("b", 1.0, now=0.0)
    schedule.cancel_all()
    assert schedule.next_deadline() is None


def test_left_is_never_negative() -> None:
    schedule = Schedule(start=0.0)
    schedule.set_real("r", 5.0, now=0.0)
    schedule.set_active("a", 5.0, now=0.0)
    assert schedule.left("r", 100.0) == 0.0
    assert schedule.left("a", 100.0) == 0.0


@given(
    events=st.lists(
        st.tuples(st.sampled_from(["pause", "resume"]), st.floats(0, 100)), max_size=20
    ),
    length=st.floats(1, 500),
)
def test_active_timer_falls_due_after_exactly_its_active_seconds(
    events: list[tuple[str, float]], length: float
) -> None:
    """However the clock is paused and resumed, an active timer falls due when the active clock
    has advanced by its length (checked against an independent sum of running spans)."""
    schedule = Schedule(start=0.0)
    schedule.set_active("step", length, now=0.0)
    now, running_since, active = 0.0, 0.0, 0.0
    for kind, gap in events:
        now += gap
        if kind == "pause" and running_since is not None:
            active += now - running_since
            running_since = None
            schedule.pause(now)
        elif kind == "resume" and running_since is None:
            running_since = now
            schedule.resume(now)
    deadline = schedule.next_deadline()
    if running_since is None:
        assert deadline is None
        return
    expected = running_since + (length - active)
    assert deadline is not None and abs(deadline - expected) < 1e-6
