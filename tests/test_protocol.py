"""The protocol as data: the shipped protocol.yaml, another routine, and every kind of bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_guide import protocol
from voice_guide.protocol import DEFAULT_PROTOCOL, ProtocolError, Script, load, loads

PROTOCOLS = Path(__file__).parent / "protocols"


@pytest.fixture(scope="module")
def script() -> Script:
    return load()


# --- the shipped back-massage protocol --------------------------------------------------------


def test_default_protocol_is_the_repo_file() -> None:
    assert DEFAULT_PROTOCOL.name == "protocol.yaml"
    assert DEFAULT_PROTOCOL.is_file()
    assert load(DEFAULT_PROTOCOL) == load(str(DEFAULT_PROTOCOL))


def test_all_22_seed_steps_are_there(script: Script) -> None:
    assert sorted({step.number for step in script.steps}) == list(range(1, 23))


def test_expanded_order_and_origins_follow_the_seed(script: Script) -> None:
    expected = (
        [(n, n) for n in range(1, 6)]
        + [(6, 3), (6, 4), (6, 5)]
        + [(7, 7)]
        + [(n, n) for n in range(8, 17)]
        + [(17, o) for o in range(8, 17)]
        + [(18, 3), (18, 4), (18, 5)]
        + [(n, n) for n in range(19, 23)]
    )
    assert [(step.number, step.origin) for step in script.steps] == expected
    assert [step.index for step in script.steps] == list(range(1, len(expected) + 1))


def test_sides_and_stations(script: Script) -> None:
    by_position = {(step.number, step.origin): step for step in script.steps}
    for origin in range(8, 17):
        assert by_position[(origin, origin)].side == "right"
        copy = by_position[(17, origin)]
        assert copy.side == "left"
        # As in the seed: 8-13 reaching over from the other side, 14-16 from the head again.
        assert copy.station.id == ("right" if origin <= 13 else "head")
    for number in (*range(1, 8), *range(18, 23)):
        assert all(s.side is None for s in script.steps if s.number == number)
    assert {s.station.id for s in script.steps if s.number in (8, 9, 10, 11, 12, 13)} == {"left"}
    assert {s.station.id for s in script.steps if s.number in (1, 7, 14, 18, 22)} == {"head"}
    # The station announcements say where to stand and which side to reach over to.
    left = by_position[(8, 8)].station.announce.lower()
    right = by_position[(17, 8)].station.announce.lower()
    assert "left" in left and "reach over to the right" in left
    assert "right" in right and "reach over to the left" in right
    assert {s.station.name for s in script.steps} == {
        "Head of the table", "Client's left", "Client's right"}


def test_step_17_sends_the_practitioner_back_to_the_head_for_14_to_16(script: Script) -> None:
    copies = [s for s in script.steps if s.number == 17]
    stations = [s.station.id for s in copies]
    assert stations == ["right"] * 6 + ["head"] * 3
    # The session announces the move to the head, and to the right after step 16.
    before = script.steps[copies[0].index - 2]
    assert (before.number, before.station.id) == (16, "head")


def test_a_repeat_copies_the_move_and_says_what_it_is(script: Script) -> None:
    original = next(s for s in script.steps if s.number == 8)
    copy = next(s for s in script.steps if s.number == 17 and s.origin == 8)
    assert copy.title == original.title
    assert copy.details == original.details
    assert copy.seconds == original.seconds
    assert "Repeat of step 8, left side: " + original.say in copy.say
    second = next(s for s in script.steps if s.number == 17 and s.origin == 9)
    assert second.say.startswith("Repeat of step 9, left side: ")
    head_copy = next(s for s in script.steps if s.number == 18 and s.origin == 4)
    assert head_copy.say.startswith("Repeat of step 4: ")


def test_every_step_can_be_spoken_and_timed(script: Script) -> None:
    for step in script.steps:
        assert step.seconds > 0
        assert step.say.strip()
        assert step.title.strip()
        assert step.station.announce.strip()


def test_session_length_is_40_to_50_minutes_hands_on(script: Script) -> None:
    assert 40 * 60 <= script.total_seconds <= 50 * 60
    assert script.total_seconds == sum(step.seconds for step in script.steps)


def test_pressure_checkins_after_first_firm_work_on_each_side(script: Script) -> None:
    flagged = [(s.number, s.origin, s.side) for s in script.steps if s.checkin]
    assert any(number <= 5 for number, _, _ in flagged)  # early, at the head of the table
    assert (13, 13, "right") in flagged
    assert (17, 13, "left") in flagged
    assert (9, 9, "right") not in flagged  # step 8's question, 90 s before, is the right side's
    # The seed's two questions: how is the pressure, then lighter or deeper after a "fine".
    assert script.checkins.question == "How is the pressure?"
    assert script.checkins.follow_up == "Would you like it lighter or deeper?"
    assert script.checkins.follow_up_on == ("fine",)
    assert 0 < script.checkins.every_minutes <= 10
    assert script.checkins.answer_seconds > 0


def test_flagged_moves_are_never_further_apart_than_every_minutes(script: Script) -> None:
    # The spacing the file is written for: the clock's check-in is a backstop, not the rule.
    every = script.checkins.every_minutes * 60
    t, last = 0, 0
    for step in script.steps:
        t += step.seconds
        if step.checkin:
            assert t - last <= every, step.index
            last = t
    assert script.total_seconds - last <= every


def test_safety_and_technique_cues_are_where_they_belong(script: Script) -> None:
    def cues(number: int) -> str:
        step = next(s for s in script.steps if s.number == number and s.origin == number)
        return " ".join(step.cues).lower()

    assert "spine" in cues(4) and "never" in cues(4)
    assert "hip" in cues(5)
    assert "body weight" in cues(13) and "bracing" in cues(13)
    assert "cold oil" in cues(2)
    # Cues travel with the copies of a move.
    copy = next(s for s in script.steps if s.number == 17 and s.origin == 13)
    assert "bracing" in " ".join(copy.cues).lower()


def test_preparation_opening_and_rest_cover_the_article(script: Script) -> None:
    prep = " ".join(script.preparation).lower()
    for needle in ("mat", "mattress", "pillow", "lengthwise", "ankles", "pregnant",
                   "between the legs", "fifteen to twenty minutes", "cold oil", "allergies",
                   "flannel", "cream"):
        assert needle in prep, needle
    opening = script.opening.lower()
    assert "anything feels wrong" in opening and "hurts in a bad way" in opening
    assert 60 <= script.rest.seconds <= 600
    assert "no need to talk" in script.rest.say.lower()
    assert "glass of water" in script.rest.closing.lower()


# --- another routine, no code changes ---------------------------------------------------------


def test_an_alternative_routine_loads() -> None:
    other = load(PROTOCOLS / "neck_and_shoulders.yaml")
    assert other.name == "Seated neck and shoulders"
    assert [(s.index, s.number, s.origin, s.side) for s in other.steps] == [
        (1, 1, 1, None), (2, 2, 2, None), (3, 3, 3, "right"),
        (4, 4, 1, "left"), (5, 4, 3, "left"), (6, 5, 5, None),
    ]
    assert [s.seconds for s in other.steps] == [60, 90, 45, 30, 30, 30]
    assert other.total_seconds == 285
    assert other.steps[1].say == "Thumb circles beside the upper spine. Never on the bone."
    assert other.steps[1].cues == ("Beside the spine, never on it.",)
    assert other.steps[0].station.announce == "Stand behind the chair."
    assert other.steps[2].station.announce == "Stand at the client's side."
    assert other.checkins.every_minutes == 3.5
    assert other.checkins.answer_seconds == 8  # the default when left out
    assert other.preparation == ()
    # Copies keep their move's check-in flag (step 1's) unless the repeat says otherwise.
    assert [s.checkin for s in other.steps] == [True, False, False, True, False, False]


def test_repeat_checkin_true_means_once_after_the_last_copy() -> None:
    text = (PROTOCOLS / "tiny.yaml").read_text().replace(
        "    repeat: 2\n", "    repeat: 1-2\n    checkin: true\n")
    tiny = loads(text, source="tiny-variant.yaml")
    assert [(s.number, s.origin, s.checkin) for s in tiny.steps] == [
        (1, 1, False), (2, 2, False), (3, 1, False), (3, 2, True)]


def test_the_tiny_base_of_the_bad_files_is_itself_valid() -> None:
    tiny = load(PROTOCOLS / "tiny.yaml")
    assert [(s.number, s.origin, s.side) for s in tiny.steps] == [
        (1, 1, None), (2, 2, "right"), (3, 2, "right")]
    # A repeat step's `station` still puts every copy there; a station without a name gets its id.
    assert [s.station.id for s in tiny.steps] == ["head", "left", "head"]
    assert tiny.steps[0].station.name == "Head"
    # A file with only a question (older files) has no follow-up.
    assert (tiny.checkins.follow_up, tiny.checkins.follow_up_on) == (None, ())


REPEAT_AT_TWO_STATIONS = """\
name: Mirrored
opening: Hello.
stations:
  head: {announce: Stand at the head., name: Head end}
  left_side: Stand at the left.
  right_side: Stand at the right.
checkins: {question: Pressure all right}
rest: {say: Relax., closing: Water.}
steps:
  - {number: 1, station: left_side, side: right, title: Knead, say: Knead., seconds: 60}
  - {number: 2, station: head, side: right, title: Drag, say: Drag., seconds: 60}
  - number: 3
    side: left
    repeat: 1-2
"""


def test_copies_keep_the_station_of_their_move_unless_the_repeat_moves_them() -> None:
    kept = loads(REPEAT_AT_TWO_STATIONS, source="mirror.yaml")
    assert [(s.origin, s.station.id, s.side) for s in kept.steps[2:]] == [
        (1, "left_side", "left"), (2, "head", "left")]
    assert kept.steps[1].station.name == "Head end"
    assert kept.steps[0].station.name == "Left side"
    mirrored = loads(REPEAT_AT_TWO_STATIONS.replace(
        "    repeat: 1-2\n", "    repeat: 1-2\n    stations: {left_side: right_side}\n"))
    assert [(s.origin, s.station.id) for s in mirrored.steps[2:]] == [
        (1, "right_side"), (2, "head")]
    everywhere = loads(REPEAT_AT_TWO_STATIONS.replace(
        "    repeat: 1-2\n", "    repeat: 1-2\n    station: right_side\n"))
    assert [s.station.id for s in everywhere.steps[2:]] == ["right_side", "right_side"]


@pytest.mark.parametrize(("extra", "message"), [
    ("    stations: {left_side: rigth_side}\n",
     "mirror.yaml:15: step 3, stations.left_side: unknown station 'rigth_side' (did you mean "
     "'right_side'?)"),
    ("    stations: {right_side: left_side}\n",
     "mirror.yaml:15: step 3, stations.right_side: none of the repeated moves stands at "
     "'right_side' (they stand at head, left_side)"),
    ("    stations: [left_side]\n",
     "mirror.yaml:15: step 3, stations: expected the stations of the repeated moves"),
    ("    stations: {left_side: right_side}\n    station: head\n",
     "mirror.yaml:15: step 3, stations: give either `station`"),
])
def test_bad_station_mappings_say_what_is_wrong(extra: str, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        loads(REPEAT_AT_TWO_STATIONS.replace("    repeat: 1-2\n", "    repeat: 1-2\n" + extra),
              source="mirror.yaml")
    assert caught.value.problems[0].startswith(message), caught.value.problems
    assert len(caught.value.problems) == 1


def test_follow_up_questions_are_data() -> None:
    text = (PROTOCOLS / "tiny.yaml").read_text()
    with_follow_up = text.replace(
        "  question: How is the pressure?\n",
        "  question: How is the pressure?\n  follow_up: Lighter or deeper?\n")
    tiny = loads(with_follow_up, source="f.yaml")
    assert tiny.checkins.follow_up == "Lighter or deeper?"
    assert tiny.checkins.follow_up_on == ("fine",)  # the seed's word, when none is given
    own = loads(with_follow_up.replace("  follow_up: Lighter or deeper?\n",
                                       "  follow_up: Lighter or deeper?\n"
                                       "  follow_up_on: [Fine, okay]\n"), source="f.yaml")
    assert own.checkins.follow_up_on == ("fine", "okay")


# --- bad files: one line each, naming file, line, field path and what was expected -------------

BAD = [
    ("bad_syntax.yaml", 28, "YAML syntax error: expected ',' or ']'"),
    ("bad_unknown_key.yaml", 28, "step 2, secnds: unknown field (did you mean 'seconds', "
                                  "which is required and missing?)"),
    ("bad_top_unknown_key.yaml", 9, "chekins: unknown field (did you mean 'checkins', which is "
                                    "required and missing?)"),
    ("bad_missing_say.yaml", 18, "step 1, say: missing: this field is required"),
    ("bad_zero_seconds.yaml", 22, "step 1, seconds: expected a duration in seconds above 0, "
                                  "got 0"),
    ("bad_seconds_type.yaml", 28, "step 2, seconds: expected a duration in seconds, a whole "
                                  "number above 0, got text 'ninety'"),
    ("bad_duplicate_number.yaml", 23, "step 1 (the 2nd step), number: step number 1 is "
                                      "already used at line 18"),
    ("bad_unknown_station.yaml", 24, "step 2, station: unknown station 'lfet' (did you mean "
                                     "'left'?); stations are: head, left"),
    ("bad_repeat_missing.yaml", 32, "step 3, repeat: step 7 does not exist (steps are 1, 2, 3)"),
    ("bad_repeat_self.yaml", 32, "step 3, repeat: step 3 cannot repeat itself"),
    ("bad_repeat_of_repeat.yaml", 36, "step 4, repeat: step 3 is itself a repeat"),
    ("bad_repeat_range.yaml", 32, "step 3, repeat: range '2-1' must go from a lower step number "
                                  "to a higher one"),
    ("bad_side.yaml", 25, "step 2, side: expected right or left"),
    ("bad_checkin_minutes.yaml", 11, "checkins.every_minutes: expected a number of minutes above "
                                     "0, got -5"),
    ("bad_checkin_flag.yaml", 23, "step 1, checkin: expected true or false, got text 'often'"),
    ("bad_duplicate_field.yaml", 21, "step 1, title: field given twice (first at line 20)"),
    ("bad_follow_up_on.yaml", 12, "checkins.follow_up_on: 'lighter' is not an answer meaning the "
                                  "pressure is good"),
    ("bad_follow_up_alone.yaml", 11, "checkins.follow_up_on: needs a follow_up question"),
    ("bad_stations_on_a_move.yaml", 26, "step 2, stations: only a repeat step can move its "
                                        "copies"),
    ("bad_empty.yaml", 1, "the file is empty"),
    ("bad_not_mapping.yaml", 2, "expected fields (name, preparation, opening"),
    # Types YAML gives that are not what the field means, and sanity limits (issue 12, 5).
    ("bad_say_number.yaml", 21, "step 1, say: expected text, got 42 (put it in "
                                "quotes if it is meant as text)"),
    ("bad_cues_text.yaml", 23, "step 1, cues: expected a list of texts, e.g. `cues: [Never press "
                               "on the spine.]`, got text 'Never press on the spine.'"),
    ("bad_repeat_twice.yaml", 32, "step 3, repeat: step 2 is named more than once; a repeat "
                                  "copies each move once"),
    ("bad_repeat_wide.yaml", 32, "step 3, repeat: step 3 cannot repeat itself; steps 4-9 do not "
                                 "exist (steps are 1, 2, 3)"),
    ("bad_seconds_too_long.yaml", 28, "step 2, seconds: expected a duration in seconds of at most "
                                      "3600, got 7200"),
    ("bad_station_number.yaml", 8, "stations.left.announce: expected text, got 42"),
    ("bad_repeat_stations_text.yaml", 32, "step 3, stations: expected the stations of the "
                                          "repeated moves, each with the station its copies move "
                                          "to, e.g. `{left: right}`, got text 'left'"),
    ("bad_stations_text.yaml", 4, "stations: expected stations, each an id with its announcement"),
]


@pytest.mark.parametrize(("name", "line", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_gives_one_clear_line(name: str, line: int, message: str) -> None:
    path = PROTOCOLS / name
    with pytest.raises(ProtocolError) as caught:
        load(path)
    first = caught.value.problems[0]
    assert first.startswith(f"{path}:{line}: "), first
    assert message in first, first
    assert "\n" not in first
    assert len(caught.value.problems) == 1, caught.value.problems
    assert str(caught.value) == first


def test_bad_files_are_the_tiny_base_with_one_mistake() -> None:
    # Guards the fixtures: each bad file must differ from tiny.yaml, so each tests one thing.
    base = (PROTOCOLS / "tiny.yaml").read_text().splitlines()[1:]
    for name, _, _ in BAD:
        if name in ("bad_empty.yaml", "bad_not_mapping.yaml"):
            continue
        lines = (PROTOCOLS / name).read_text().splitlines()[1:]
        assert lines != base, name


def test_several_problems_are_all_reported_in_line_order() -> None:
    text = (PROTOCOLS / "tiny.yaml").read_text()
    text = text.replace("    seconds: 60", "    seconds: -1").replace("side: right", "side: up")
    text = text.replace("every_minutes: 8", "evry_minutes: 8")
    with pytest.raises(ProtocolError) as caught:
        loads(text, source="several.yaml")
    problems = caught.value.problems
    assert [p.split(":")[1] for p in problems] == ["11", "22", "25"]
    assert "checkins.evry_minutes: unknown field (did you mean 'every_minutes'?)" in problems[0]
    assert "step 1, seconds" in problems[1]
    assert "step 2, side" in problems[2]


def test_a_missing_file_is_a_protocol_error(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="no such file"):
        load(tmp_path / "nope.yaml")


def test_a_directory_is_a_protocol_error(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="cannot read"):
        load(tmp_path)


def test_yaml_tags_that_build_objects_are_refused() -> None:
    text = (PROTOCOLS / "tiny.yaml").read_text().replace(
        "name: Tiny routine", "name: !!python/object/apply:os.system ['true']")
    with pytest.raises(ProtocolError) as caught:
        loads(text, source="unsafe.yaml")
    assert caught.value.problems[0].startswith("unsafe.yaml:2: ")


def test_the_editor_schema_names_the_same_fields_as_the_loader() -> None:
    schema = json.loads((Path(protocol.__file__).parent / "protocol.schema.json").read_text())
    assert set(schema["properties"]) == set(protocol.TOP_FIELDS)
    assert set(schema["$defs"]["step"]["properties"]) == set(protocol.STEP_FIELDS)
    assert set(schema["properties"]["checkins"]["properties"]) == set(protocol.CHECKIN_FIELDS)
    assert set(schema["properties"]["rest"]["properties"]) == set(protocol.REST_FIELDS)
    station = schema["properties"]["stations"]["additionalProperties"]["oneOf"][1]
    assert set(station["properties"]) == set(protocol.STATION_FIELDS)
    assert schema["$defs"]["step"]["properties"]["side"]["enum"][:2] == list(protocol.SIDES)


# --- robustness: any text is a Script or a ProtocolError, never another exception --------------

SHIPPED_LINES = DEFAULT_PROTOCOL.read_text(encoding="utf-8").splitlines(keepends=True)


def assert_loads_or_says_why(text: str) -> None:
    try:
        loads(text, source="fuzz.yaml")
    except ProtocolError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.startswith("fuzz.yaml"), problem
            assert "\n" not in problem


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_script_or_a_protocol_error(text: str) -> None:
    assert_loads_or_says_why(text)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, len(SHIPPED_LINES) - 1), min_size=1, max_size=6),
    st.sampled_from(["", "  x: 1\n", "- \n", "    seconds: -3\n", "  - number: 6\n", ":\n",
                     "    repeat: [99]\n", "\t\n", "    say: [\n"]),
)
def test_damaged_copies_of_the_shipped_protocol_never_crash(lines: list[int], junk: str) -> None:
    damaged = list(SHIPPED_LINES)
    for position in sorted(set(lines), reverse=True):
        damaged[position] = junk
    assert_loads_or_says_why("".join(damaged))


def test_unprintable_characters_name_their_line() -> None:
    with pytest.raises(ProtocolError) as caught:
        loads("name: ok\nopening: bad \x01 char\n", source="ctrl.yaml")
    assert caught.value.problems[0].startswith("ctrl.yaml:2: YAML syntax error")


def test_an_empty_repeat_is_an_error_not_a_silently_dropped_step() -> None:
    text = (PROTOCOLS / "tiny.yaml").read_text().replace("    repeat: 2\n", "    repeat:\n")
    with pytest.raises(ProtocolError) as caught:
        loads(text, source="empty-repeat.yaml")
    assert caught.value.problems == (
        "empty-repeat.yaml:29: step 3, repeat: is empty; expected the steps to repeat: a number "
        "(`8`), a range (`3-5`), or a list of them (`[3, 5, 9-11]`)",)


def test_every_step_item_of_a_valid_file_becomes_a_move_or_copies() -> None:
    # Nothing is dropped: each `- number:` item shows up in the script under its number.
    for path in (DEFAULT_PROTOCOL, PROTOCOLS / "neck_and_shoulders.yaml", PROTOCOLS / "tiny.yaml"):
        written = path.read_text().count("  - number: ")
        assert len({s.number for s in load(path).steps}) == written, path


# --- what is read, and how: size cap, encodings (issue 12, section 5) ---------------------------

TINY = (PROTOCOLS / "tiny.yaml").read_text(encoding="utf-8")


def one_problem(path: Path) -> str:
    with pytest.raises(ProtocolError) as caught:
        load(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    [problem] = caught.value.problems
    assert "\n" not in problem
    return problem


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_byte_order_marks_are_read(tmp_path: Path, encoding: str) -> None:
    text = TINY.replace("Relax now.", "Détendez-vous, respirez.")
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):  # these codecs write no mark: put it first
        data = "\ufeff".encode(encoding) + data
    path = tmp_path / f"{encoding}.yaml"
    path.write_bytes(data)
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:3] == b"\xef\xbb\xbf"
    script = load(path)
    assert script.rest.say == "Détendez-vous, respirez."
    assert script.steps == loads(text, source=path).steps


def test_latin_1_text_names_the_line_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(TINY.replace("Relax now.", "Détendez-vous.").encode("latin-1"))
    assert one_problem(path) == (
        f"{path}:15: not UTF-8 text: byte 0xe9 (byte 9 of the line) is not valid UTF-8; save the "
        "file as UTF-8")
    assert TINY.splitlines()[14] == "  say: Relax now."  # line 15; "  say: D" is 8 bytes


def test_broken_utf16_names_its_line(tmp_path: Path) -> None:
    body = TINY.encode("utf-16-le")
    at = body.index("Relax".encode("utf-16-le"))
    path = tmp_path / "utf16.yaml"
    path.write_bytes(b"\xff\xfe" + body[:at] + b"\x00\xd8" + body[at:])  # a lone surrogate
    assert one_problem(path) == (
        f"{path}:15: not UTF-16 text: bytes 0x00 0xd8 (byte {at + 1} after the UTF-16 byte order "
        "mark) are not valid UTF-16; save the file as UTF-8")


def test_a_file_over_1_mb_is_refused_after_reading_1_mb(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(TINY + "# " + "x" * protocol.MAX_FILE_BYTES + "\n")
    assert one_problem(path) == (
        f"{path}: too large for a protocol file: more than 1 MB (only the first 1 MB was read; a "
        "protocol is a few kilobytes of text)")
    exactly = tmp_path / "exactly.yaml"
    exactly.write_text(TINY + "#" * (protocol.MAX_FILE_BYTES - len(TINY.encode()) - 1) + "\n")
    assert exactly.stat().st_size == protocol.MAX_FILE_BYTES
    assert load(exactly).name == "Tiny routine"  # 1 MB itself is still read


def test_dev_zero_is_refused_not_read_forever() -> None:
    problem = one_problem(Path("/dev/zero"))
    assert problem.startswith("/dev/zero: too large for a protocol file: more than 1 MB")


# --- sanity limits and one message per mistake -------------------------------------------------

HEAD = TINY.split("steps:\n")[0] + "steps:\n"


def flat_steps(count: int, start: int = 1) -> str:
    return "".join(f"  - {{number: {n}, station: head, title: Hold, say: Hold., seconds: 60}}\n"
                   for n in range(start, start + count))


def test_at_most_500_steps() -> None:
    assert len(loads(HEAD + flat_steps(500)).steps) == 500
    with pytest.raises(ProtocolError) as caught:
        loads(HEAD + flat_steps(5000), source="huge.yaml")
    assert caught.value.problems == ("huge.yaml:18: steps: 5000 steps; a protocol has at most 500",)


def test_at_most_1000_moves_once_repeats_are_expanded() -> None:
    repeats = "".join(f"  - {{number: {n}, repeat: 1-250}}\n" for n in range(251, 255))
    with pytest.raises(ProtocolError) as caught:
        loads(HEAD + flat_steps(250) + repeats, source="moves.yaml")
    assert caught.value.problems == (
        "moves.yaml:271: step 254: the steps expand to more than 1000 moves here; a session has "
        "at most 1000",)
    assert len(loads(HEAD + flat_steps(250) + repeats[: repeats.index("  - {number: 254")]).steps
               ) == 1000


def test_a_range_longer_than_a_protocol_is_refused_before_it_is_expanded() -> None:
    text = TINY.replace("    repeat: 2\n", "    repeat: 1-1000000000\n")
    with pytest.raises(ProtocolError) as caught:
        loads(text, source="range.yaml")
    assert caught.value.problems == (
        "range.yaml:32: step 3, repeat: range '1-1000000000' names 1000000000 steps; a protocol "
        "has at most 500",)


@pytest.mark.parametrize(("length", "ok"), [(2000, True), (2001, False)])
def test_a_spoken_text_is_at_most_2000_characters(length: int, ok: bool) -> None:
    text = TINY.replace("say: Rest your hands on the back.", "say: " + "w" * length)
    if ok:
        assert len(loads(text).steps[0].say) == 2000
        return
    with pytest.raises(ProtocolError) as caught:
        loads(text, source="long.yaml")
    assert caught.value.problems == (
        "long.yaml:21: step 1, say: is 2001 characters long; a text is at most 2000 (split a long "
        "instruction over several steps)",)


def test_a_say_list_is_at_most_2000_characters_together() -> None:
    parts = ", ".join(["w" * 900] * 3)
    text = TINY.replace("say: Rest your hands on the back.", f"say: [{parts}]")
    with pytest.raises(ProtocolError) as caught:
        loads(text, source="flow.yaml")
    assert caught.value.problems == (
        "flow.yaml:21: step 1, say: is 2702 characters long together; a text is at most 2000 "
        "(split a long instruction over several steps)",)


def test_a_60_mb_say_is_refused_at_once(tmp_path: Path) -> None:
    import time

    path = tmp_path / "say.yaml"
    path.write_text(TINY.replace("say: Rest your hands on the back.", "say: " + "w" * 60_000_000))
    started = time.process_time()
    assert "too large for a protocol file" in one_problem(path)
    assert time.process_time() - started < 2.0  # CPU time: was 28 s; 1 MB is read, not parsed


@pytest.mark.parametrize(("old", "new", "message"), [
    ("every_minutes: 8", "every_minutes: 600",
     "checkins.every_minutes: expected a number of minutes of at most 120, got 600"),
    ("answer_seconds: 8", "answer_seconds: 1000",
     "checkins.answer_seconds: expected a number of seconds of at most 120"),
    ("  seconds: 120", "  seconds: 86400",
     "rest.seconds: expected a duration in seconds of at most 3600, got 86400"),
    ("title: Opening hold", "title: 3.5",
     "step 1, title: expected text, got 3.5 (put it in quotes"),
    ("title: Opening hold", "title: yes",
     "step 1, title: expected text, got yes (true or false to YAML)"),
])
def test_numbers_past_their_limits_and_non_text(old: str, new: str, message: str) -> None:
    assert TINY.count(old) == 1
    with pytest.raises(ProtocolError) as caught:
        loads(TINY.replace(old, new), source="limits.yaml")
    assert len(caught.value.problems) == 1, caught.value.problems
    assert message in caught.value.problems[0]


def test_quoted_numbers_are_text() -> None:
    script = loads(TINY.replace("say: Rest your hands on the back.", 'say: "42"'))
    assert script.steps[0].say == "42"


def test_a_cue_list_may_hold_one_text_with_commas_when_quoted() -> None:
    text = TINY.replace("    seconds: 60\n",
                        "    seconds: 60\n    cues: ['Beside the spine, never on it.']\n")
    assert loads(text).steps[0].cues == ("Beside the spine, never on it.",)


def test_missing_stations_are_one_message_not_one_per_step() -> None:
    text = TINY.replace("stations:\n  head:\n    announce: Stand at the head of the table.\n"
                        "  left:\n    announce: Stand at the left.\n", "")
    with pytest.raises(ProtocolError) as caught:
        loads(text, source="nostations.yaml")
    assert caught.value.problems == (
        "nostations.yaml:2: stations: missing: this field is required",)


def test_a_repeat_of_several_repeats_is_one_message() -> None:
    text = TINY + "  - {number: 4, repeat: 3}\n  - {number: 5, repeat: [3, 4, 8, 9]}\n"
    with pytest.raises(ProtocolError) as caught:
        loads(text, source="r.yaml")
    assert caught.value.problems == (
        "r.yaml:33: step 4, repeat: step 3 is itself a repeat; a repeat can only name ordinary "
        "moves (list those moves instead)",
        "r.yaml:34: step 5, repeat: steps 8-9 do not exist (steps are 1, 2, 3, 4, 5); steps 3-4 "
        "are themselves repeats; a repeat can only name ordinary moves (list those moves "
        "instead)",
    )


# --- messages a clinic owner reads (issue 20, 6) -------------------------------------------------


def problems_of(text: str, source: str = "p.yaml") -> tuple[str, ...]:
    with pytest.raises(ProtocolError) as caught:
        loads(text, source=source)
    return caught.value.problems


def test_a_step_is_named_by_its_own_number_or_else_by_its_place() -> None:
    numbered = HEAD + flat_steps(1, start=10) + (
        "  - {number: 20, station: head, title: Hold, say: Hold., secnds: 60}\n")
    assert problems_of(numbered) == (
        "p.yaml:19: step 20, secnds: unknown field (did you mean 'seconds', which is required "
        "and missing?)",)
    unnumbered = HEAD + flat_steps(1) + "  - {station: head, title: Hold, say: Hold., seconds: 0}\n"
    assert problems_of(unnumbered) == (
        "p.yaml:19: the 2nd step, number: missing: this field is required",
        "p.yaml:19: the 2nd step, seconds: expected a duration in seconds above 0, got 0")


def test_items_of_a_list_are_counted_from_one_in_words() -> None:
    text = TINY.replace("opening:", "preparation: [Warm the room., '']\nopening:")
    assert problems_of(text) == ("p.yaml:3: preparation, item 2: is empty; expected text",)


def test_an_empty_step_list_asks_for_a_step() -> None:
    assert problems_of(HEAD.replace("steps:\n", "steps: []\n")) == (
        "p.yaml:17: steps: expected at least one step, each starting `- number: 1`, got an "
        "empty list",)


def test_a_misspelt_key_and_its_value_are_reported_in_one_round() -> None:
    text = TINY.replace("    seconds: 90\n", "    secnds: 90s\n")
    assert problems_of(text) == (
        "p.yaml:28: step 2, secnds: unknown field (did you mean 'seconds', which is required "
        "and missing?)",
        "p.yaml:28: step 2, seconds: expected a duration in seconds, a whole number above 0, got "
        "text '90s'")
    # A misspelt `repeat` is still a repeat step: not four "missing" fields of a move on top.
    repeat = TINY.replace("    repeat: 2", "    repaet: 2")
    assert problems_of(repeat) == (
        "p.yaml:32: step 3, repaet: unknown field (did you mean 'repeat'?)",)


def test_a_protocol_longer_than_any_session_loads_with_a_warning_in_hours() -> None:
    from voice_guide.prompts import long_session_warning

    assert long_session_warning(load()) is None
    long = loads(HEAD + flat_steps(500), source="long.yaml")
    assert long_session_warning(long) == (
        "long.yaml: 500 steps, 500 moves: the session takes 8 hours 22 minutes with the rest, "
        "longer than 3 hours; check the seconds of its steps and its repeats")
