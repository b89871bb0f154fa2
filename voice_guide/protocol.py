"""The massage protocol as data: load and validate a protocol YAML file, expand repeats.

`load(path) -> Script`. A Script is flat: repeats are expanded, so every `Step` is one move at
one position in the session, knowing its seed number, the move it performs (`origin`) and side.
The file format is described at the top of `protocol.yaml`; `protocol.schema.json` is the same
for editors.

Validation reads the YAML node tree (safe: plain data only) so every problem names its line:
`FILE:LINE: field.path: what was expected`, e.g. `protocol.yaml:41: step 4, seconds: ...` (a
step named by its own number; list items counted from 1: `preparation, item 2`). All problems
of a file are reported at once, in line order.

Repeats: a repeat step names ordinary moves only. A repeat of a repeat step, or of itself, is an
error rather than a recursive expansion: it keeps a file's meaning obvious and makes loops
impossible. A copy stands where the move it copies stands, unless the repeat step moves it:
`station` puts every copy there (the older form), `stations` maps the copied moves' stations to
the copies' (`{left: right}`: the side work mirrored, the work at the head still at the head).
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from voice_guide.commands import Command, client_answer, normalize


@dataclass(frozen=True)
class Station:
    """Where the practitioner stands; `announce` is spoken when moving there, `name` is the short
    form the status panel shows ("" when not given: the id stands for it)."""

    id: str
    announce: str
    name: str = ""


@dataclass(frozen=True)
class Step:
    index: int  # 1-based position in the session
    number: int  # seed step number (1-22 in the back-massage protocol)
    origin: int  # seed number of the move performed; == number unless it is a repeat
    title: str
    station: Station
    side: str | None  # "right", "left" or None
    say: str  # the spoken instruction
    details: str  # the longer explanation, spoken on request
    seconds: int
    cues: tuple[str, ...] = ()  # safety and technique cues spoken with the step
    checkin: bool = False  # ask the client about pressure after this step


@dataclass(frozen=True)
class CheckIns:
    question: str  # heard by the client (room route)
    every_minutes: float  # at most this much hands-on time between check-ins
    answer_seconds: float  # how long the client's answer is waited for, from the question's end
    # Asked when the answer is one of `follow_up_on` (the seed: "fine" in an unconvincing tone,
    # which a machine cannot hear, so every "fine" gets it). None: no follow-up.
    follow_up: str | None = None
    follow_up_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rest:
    seconds: int
    say: str  # room route, as the rest begins
    closing: str  # practitioner route, when the rest is over (offer a glass of water)


@dataclass(frozen=True)
class Script:
    name: str
    preparation: tuple[str, ...]
    opening: str  # spoken to the client before the first step
    steps: tuple[Step, ...]
    checkins: CheckIns
    rest: Rest
    source: Path | None = None

    @property
    def total_seconds(self) -> int:
        return sum(step.seconds for step in self.steps)


class ProtocolError(ValueError):
    """A protocol file is wrong: says the file, the line and the field path, and what was expected.

    `problems` holds one line per problem (`FILE:LINE: field.path: what was expected`); the
    message is those lines joined.
    """

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        self.problems: tuple[str, ...] = tuple(problems) or (message,)
        super().__init__(message)

    @classmethod
    def of(cls, problems: Iterable[str]) -> ProtocolError:
        problems = tuple(problems)
        return cls("\n".join(problems), problems)


# Shipped inside the package (so an installed voice-guide has it); the repository's top-level
# protocol.yaml is a link to this file.
DEFAULT_PROTOCOL = Path(__file__).resolve().parent / "protocol.yaml"

# Sanity limits: a real protocol is a few kilobytes (the shipped one: 22 steps, 34 moves, 17 kB).
# Past these, a file is a mistake (or not a protocol at all), never a session to run.
MAX_FILE_BYTES = 1_000_000
MAX_STEPS = 500  # `- number:` items under steps
MAX_MOVES = 1000  # moves once repeats are expanded
MAX_TEXT = 2000  # characters of one spoken text (a list under `say` joined)
MAX_ITEMS = 100  # texts in one list (preparation, cues)
MAX_SECONDS = 3600  # a move's time, or the rest's
MAX_MINUTES = 120.0  # checkins.every_minutes
MAX_ANSWER_SECONDS = 120.0  # checkins.answer_seconds
# Longer than any massage session (moves and rest): loaded, but `check` and `run` warn.
LONG_SESSION_SECONDS = 3 * 3600
# UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def load(path: Path | str = DEFAULT_PROTOCOL) -> Script:
    """Read, validate and expand a protocol file. Raises `ProtocolError` listing every problem."""
    path = Path(path)
    return loads(read_text(path), source=path)


def read_text(path: Path) -> str:
    """The text of a protocol file: at most `MAX_FILE_BYTES` read (`/dev/zero` is not read
    forever), UTF-8, or UTF-16/32 with a byte order mark (a UTF-8 one is skipped). Anything else
    is a one-line `ProtocolError` naming the line and the byte that is not text."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ProtocolError(f"{path}: no such file") from None
    except OSError as error:
        raise ProtocolError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ProtocolError(
            f"{path}: too large for a protocol file: more than {MAX_FILE_BYTES // 1_000_000} MB "
            f"(only the first {MAX_FILE_BYTES // 1_000_000} MB was read; a protocol is a few "
            "kilobytes of text)")
    encoding, bom = "utf-8", b""
    for mark, name in _BOMS:
        if data.startswith(mark):
            encoding, bom = name, mark
            break
    body = data[len(bom):]
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as error:
        raise ProtocolError(_not_text(path, body, encoding, error)) from None


def _not_text(path: Path, body: bytes, encoding: str, error: UnicodeDecodeError) -> str:
    """`FILE:LINE: not UTF-8 text: byte 0xe9 (byte 12 of the line) is not valid UTF-8; ...`"""
    bad = " ".join(f"0x{b:02x}" for b in body[error.start:error.end][:4])
    if encoding == "utf-8":
        line = body.count(b"\n", 0, error.start) + 1
        column = error.start - (body.rfind(b"\n", 0, error.start) + 1) + 1
        return (f"{path}:{line}: not UTF-8 text: byte {bad} (byte {column} of the line) is not "
                "valid UTF-8; save the file as UTF-8")
    # A file with a UTF-16/32 byte order mark: its lines are counted in its own encoding.
    kind = encoding.upper()[:-3]
    line = body[:error.start].decode(encoding, errors="replace").count("\n") + 1
    what = f"bytes {bad}" if error.end - error.start > 1 else f"byte {bad}"
    verb = "are" if error.end - error.start > 1 else "is"
    return (f"{path}:{line}: not {kind} text: {what} (byte {error.start + 1} after the {kind} "
            f"byte order mark) {verb} not valid {kind}; save the file as UTF-8")


def loads(text: str, source: Path | str | None = None) -> Script:
    """`load` for text already in memory; `source` names it in error messages."""
    label = str(source) if source is not None else "<protocol>"
    root = _compose(text, label)
    reader = _Reader(label)
    script = reader.script(root, Path(source) if source is not None else None)
    if reader.problems or script is None:
        raise ProtocolError.of(reader.sorted_problems() or [f"{label}: not a valid protocol"])
    return script


# --- Parsing: YAML nodes (which know their line) -> checked values ---------------------------

STEP_FIELDS = (
    "number", "station", "stations", "side", "title", "say", "details", "seconds", "cues",
    "checkin", "repeat",
)
TOP_FIELDS = ("name", "preparation", "opening", "stations", "checkins", "rest", "steps")
STATION_FIELDS = ("announce", "name")
CHECKIN_FIELDS = (
    "question", "follow_up", "follow_up_on", "every_minutes", "answer_seconds"
)
REST_FIELDS = ("seconds", "say", "closing")
SIDES = ("right", "left")
REPEAT_EXPECTED = ("expected the steps to repeat: a number (`8`), a range (`3-5`), "
                   "or a list of them (`[3, 5, 9-11]`)")
DEFAULT_EVERY_MINUTES = 8.0
DEFAULT_ANSWER_SECONDS = 8.0
DEFAULT_REST_SECONDS = 180
DEFAULT_FOLLOW_UP_ON = ("fine",)  # the word the seed article flags

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-|–|to)\s*(\d+)\s*$")


def _compose(text: str, label: str) -> yaml.Node | None:
    """The YAML node tree (safe: only plain data), or a one-line `ProtocolError` with the line."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # already checks the characters
        return loader.get_single_node()
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise ProtocolError(f"{label}:{line}: YAML syntax error: character "
                            f"{error.character!r} is not allowed in a YAML file") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at_line = f":{mark.line + 1}" if mark is not None else ""
        what = error.problem or error.context or "not valid YAML"
        if error.problem and error.context and error.context_mark is not None:
            what += f" ({error.context} from line {error.context_mark.line + 1})"
        raise ProtocolError(f"{label}{at_line}: YAML syntax error: {what}") from None
    except yaml.YAMLError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ProtocolError(f"{label}: YAML syntax error: {first_line}") from None
    finally:
        if loader is not None:
            loader.dispose()


@dataclass(frozen=True)
class _RawStep:
    """One entry of `steps:` as written, with its nodes kept for error lines."""

    path: str
    node: yaml.Node
    number: int
    station: Station | None  # None on a repeat step without one: copies keep their stations
    stations: dict[str, Station] | None  # a repeat step's mapping of the copies' stations
    stations_node: yaml.Node | None
    side: str | None
    title: str | None
    say: str | None
    details: str
    seconds: int | None
    cues: tuple[str, ...]
    checkin: bool | None
    repeat: tuple[int, ...] | None
    repeat_node: yaml.Node | None


class _Reader:
    """Checks a node tree field by field, collecting every problem with its line and path."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[tuple[int, str]] = []
        self.written_numbers: set[int] = set()  # every step number in the file, valid or not
        # Station ids as written, valid or not, and whether `stations` itself could be read: a
        # step naming a station that has its own error (or when there are no stations at all to
        # check against) is not at fault, so one mistake gives one message.
        self.written_stations: set[str] = set()
        self.stations_read = False

    def problem(self, node: yaml.Node | None, path: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        where = f"{path}: " if path else ""
        self.problems.append((line, f"{self.label}:{line}: {where}{message}"))

    def sorted_problems(self) -> list[str]:
        return [message for _, message in sorted(self.problems, key=lambda p: p[0])]

    # -- the document --------------------------------------------------------------------------

    def script(self, root: yaml.Node | None, source: Path | None) -> Script | None:
        if root is None:
            self.problem(None, "", "the file is empty; expected a protocol with "
                         + ", ".join(f for f in TOP_FIELDS if f != "preparation"))
            return None
        top = self.mapping(root, "", TOP_FIELDS, required=(
            "name", "opening", "stations", "checkins", "rest", "steps"))
        if top is None:
            return None
        name = self.text(top.get("name"), "name")
        preparation = self.texts(top.get("preparation"), "preparation", default=())
        opening = self.text(top.get("opening"), "opening")
        stations = self.stations(top.get("stations"))
        checkins = self.checkins(top.get("checkins"))
        rest = self.rest(top.get("rest"))
        raw_steps = self.steps(top.get("steps"), stations)
        steps = self.expand(raw_steps)
        if self.problems or None in (name, preparation, opening, checkins, rest):
            return None
        assert name is not None and preparation is not None and opening is not None
        assert checkins is not None and rest is not None
        return Script(
            name=name, preparation=preparation, opening=opening, steps=tuple(steps),
            checkins=checkins, rest=rest, source=source,
        )

    def stations(self, node: yaml.Node | None) -> dict[str, Station]:
        path = "stations"
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode) or not node.value:
            self.problem(node, path, "expected stations, each an id with its announcement, "
                         f"e.g. `head: {{announce: Stand at the head of the table.}}`, got "
                         f"{_describe(node)}")
            return {}
        self.stations_read = True
        stations: dict[str, Station] = {}
        for key_node, value in self.pairs(node, path):
            station_id = key_node.value
            self.written_stations.add(station_id)
            here = _at(path, station_id)
            name: str | None = _default_name(station_id)
            if isinstance(value, yaml.ScalarNode):  # shorthand: `head: Stand at the head.`
                announce = self.text(value, here)
            else:
                fields = self.mapping(value, here, STATION_FIELDS, required=("announce",))
                announce = self.text(fields.get("announce"), f"{here}.announce") if fields else None
                if fields and "name" in fields:
                    name = self.text(fields["name"], f"{here}.name")
            if announce is not None and name is not None:
                stations[station_id] = Station(id=station_id, announce=announce, name=name)
        return stations

    def checkins(self, node: yaml.Node | None) -> CheckIns | None:
        fields = self.mapping(node, "checkins", CHECKIN_FIELDS, required=("question",))
        if fields is None:
            return None
        question = self.text(fields.get("question"), "checkins.question")
        follow_up = (self.text(fields["follow_up"], "checkins.follow_up")
                     if "follow_up" in fields else None)
        follow_up_on = self.follow_up_on(fields, follow_up is not None)
        every = self.positive_number(
            fields.get("every_minutes"), "checkins.every_minutes", "minutes", DEFAULT_EVERY_MINUTES,
            MAX_MINUTES)
        answer = self.positive_number(
            fields.get("answer_seconds"), "checkins.answer_seconds", "seconds",
            DEFAULT_ANSWER_SECONDS, MAX_ANSWER_SECONDS)
        if None in (question, every, answer, follow_up_on) or (
                "follow_up" in fields and follow_up is None):
            return None
        assert question is not None and every is not None and answer is not None
        assert follow_up_on is not None
        return CheckIns(question=question, every_minutes=every, answer_seconds=answer,
                        follow_up=follow_up, follow_up_on=follow_up_on)

    def follow_up_on(
        self, fields: dict[str, yaml.Node], has_follow_up: bool
    ) -> tuple[str, ...] | None:
        """The answers that get the follow-up question: words that mean "good" to the client's
        vocabulary (a wish for lighter or deeper is relayed, never followed up)."""
        path = "checkins.follow_up_on"
        node = fields.get("follow_up_on")
        if node is None:
            return DEFAULT_FOLLOW_UP_ON if has_follow_up else ()
        words = self.texts(node, path)
        if words is None:
            return None
        if not has_follow_up:
            self.problem(node, path, "needs a follow_up question to ask (add `follow_up:`)")
            return None
        normalized = tuple(normalize(word) for word in words)
        for word in normalized:
            if client_answer(word) != (Command.GOOD, word):
                self.problem(node, path, f"{word!r} is not an answer meaning the pressure is "
                             "good; expected words like fine, okay, good")
                return None
        return normalized

    def rest(self, node: yaml.Node | None) -> Rest | None:
        fields = self.mapping(node, "rest", REST_FIELDS, required=("say", "closing"))
        if fields is None:
            return None
        seconds = self.seconds(fields.get("seconds"), "rest.seconds", DEFAULT_REST_SECONDS)
        say = self.text(fields.get("say"), "rest.say")
        closing = self.text(fields.get("closing"), "rest.closing")
        if seconds is None or say is None or closing is None:
            return None
        return Rest(seconds=seconds, say=say, closing=closing)

    def steps(self, node: yaml.Node | None, stations: dict[str, Station]) -> list[_RawStep]:
        if node is None:
            return []
        if isinstance(node, yaml.SequenceNode) and not node.value:
            self.problem(node, "steps", "expected at least one step, each starting "
                         "`- number: 1`, got an empty list")
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, "steps", "expected a list of steps, each starting `- number: 1`, "
                         f"got {_describe(node)}")
            return []
        if len(node.value) > MAX_STEPS:
            self.problem(node, "steps", f"{len(node.value)} steps; a protocol has at most "
                         f"{MAX_STEPS}")
            return []
        raw: list[_RawStep] = []
        numbers = [_step_number(item) for item in node.value]
        for position, (item, number) in enumerate(zip(node.value, numbers, strict=True), start=1):
            # Named by its number; by its place too when another step has that number.
            label = f"the {_ordinal(position)} step"
            if number is not None:
                label = f"step {number}" + (f" ({label})" if numbers.count(number) > 1 else "")
            step = self.step(item, label, stations)
            if step is not None:
                raw.append(step)
        return raw

    def step(self, node: yaml.Node, path: str, stations: dict[str, Station]) -> _RawStep | None:
        # A misspelt `repeat` still makes a repeat step (it is read as `repeat`, see `mapping`).
        is_repeat = isinstance(node, yaml.MappingNode) and "repeat" in _meant_keys(
            node, STEP_FIELDS)
        required = ("number",) if is_repeat else ("number", "station", "title", "say", "seconds")
        fields = self.mapping(node, path, STEP_FIELDS, required=required)
        if fields is None:
            return None
        number = self.positive_int(fields.get("number"), _at(path, "number"), "a step number")
        if number is not None:
            # Known even if the rest of the step is wrong: a repeat naming it is not at fault.
            self.written_numbers.add(number)
        station = self.station_ref(fields.get("station"), _at(path, "station"), stations)
        stations_node = fields.get("stations")
        mapping = self.station_map(stations_node, _at(path, "stations"), stations, is_repeat)
        if is_repeat and mapping is not None and "station" in fields:
            self.problem(stations_node, _at(path, "stations"), "give either `station` (every copy "
                         "stands there) or `stations` (where copies of each station stand), "
                         "not both")
            mapping = None
        side = self.side(fields.get("side"), _at(path, "side"))
        repeat_node = fields.get("repeat")
        if is_repeat and repeat_node is None:
            self.problem(node, _at(path, "repeat"), f"is empty; {REPEAT_EXPECTED}")
        repeat = self.repeat(repeat_node, _at(path, "repeat")) if repeat_node is not None else None
        if is_repeat and "details" in fields:
            self.problem(fields["details"], _at(path, "details"), "not allowed on a repeat step "
                         "(the copies use the details of the moves they repeat)")
        title = self.text(fields.get("title"), _at(path, "title")) if "title" in fields else None
        say = self.texts_joined(fields.get("say"), _at(path, "say")) if "say" in fields else None
        details = (self.texts_joined(fields.get("details"), _at(path, "details"))
                   if "details" in fields else "")
        seconds = self.seconds(fields.get("seconds"), _at(path, "seconds"), None)
        cues = self.texts(fields.get("cues"), _at(path, "cues"), default=(), single=False)
        checkin = self.flag(fields.get("checkin"), _at(path, "checkin"))
        if number is None or details is None or cues is None:
            return None
        if not is_repeat and None in (station, title, say, seconds):
            return None
        if is_repeat and (repeat is None or ("station" in fields and station is None)
                          or (stations_node is not None and mapping is None)):
            return None
        return _RawStep(
            path=path, node=node, number=number, station=station, stations=mapping,
            stations_node=stations_node, side=side, title=title,
            say=say, details=details, seconds=seconds, cues=cues, checkin=checkin,
            repeat=repeat, repeat_node=repeat_node,
        )

    # -- repeats ---------------------------------------------------------------------------------

    def expand(self, raw: list[_RawStep]) -> list[Step]:
        """Flatten: each move once, each repeat step as copies of the moves it names."""
        by_number: dict[int, _RawStep] = {}
        for step in raw:
            first = by_number.get(step.number)
            if first is not None:
                self.problem(step.node, _at(step.path, "number"),
                             f"step number {step.number} is already used at line "
                             f"{first.node.start_mark.line + 1}; each step needs its own number")
            else:
                by_number[step.number] = step
        steps: list[Step] = []
        for step in raw:
            if step.repeat is None:
                steps.append(self.move(step, len(steps) + 1))
            else:
                targets = self.repeat_targets(step, by_number)
                if targets is None or not self.mapping_fits(step, targets):
                    continue
                for k, origin in enumerate(targets):
                    steps.append(self.copy(step, origin, len(steps) + 1,
                                           first=k == 0, last=k == len(targets) - 1))
            if len(steps) > MAX_MOVES:
                self.problem(step.node, step.path, f"the steps expand to more than {MAX_MOVES} "
                             f"moves here; a session has at most {MAX_MOVES}")
                return []
        return steps

    def repeat_targets(
        self, step: _RawStep, by_number: dict[int, _RawStep]
    ) -> list[_RawStep] | None:
        assert step.repeat is not None
        path = _at(step.path, "repeat")
        targets: list[_RawStep] = []
        missing: list[int] = []
        repeats: list[int] = []
        ok = True
        for number in step.repeat:
            target = by_number.get(number)
            if number == step.number:
                ok = False  # said below
            elif target is None and number in self.written_numbers:
                ok = False  # that step has its own error already
            elif target is None:
                missing.append(number)
            elif target.repeat is not None:
                repeats.append(number)
            else:
                targets.append(target)
        # Everything wrong with one `repeat:` in one message: `1-9` on step 3 of three steps is
        # one mistake, not seven.
        said = []
        if step.number in step.repeat:
            said.append(f"step {step.number} cannot repeat itself")
        if missing:
            known = ", ".join(str(n) for n in sorted(by_number))
            said.append(f"{_numbers('step', missing)} {'does' if len(missing) == 1 else 'do'} "
                        f"not exist (steps are {known})")
        if repeats:
            itself = "is itself a repeat" if len(repeats) == 1 else "are themselves repeats"
            said.append(f"{_numbers('step', repeats)} {itself}; a repeat can only name "
                        "ordinary moves (list those moves instead)")
        if said:
            self.problem(step.repeat_node, path, "; ".join(said))
        return targets if ok and not said else None

    def mapping_fits(self, step: _RawStep, targets: list[_RawStep]) -> bool:
        """Each station a repeat step maps is one some copied move stands at (else a typo)."""
        if step.stations is None:
            return True
        used = {target.station.id for target in targets if target.station is not None}
        unused = [key for key in step.stations if key not in used]
        for key in unused:
            self.problem(step.stations_node, _at(_at(step.path, "stations"), key),
                         f"none of the repeated moves stands at '{key}' (they stand at "
                         f"{', '.join(sorted(used))})")
        return not unused

    @staticmethod
    def move(raw: _RawStep, index: int) -> Step:
        assert raw.station is not None
        assert raw.title is not None and raw.say is not None and raw.seconds is not None
        return Step(
            index=index, number=raw.number, origin=raw.number, title=raw.title,
            station=raw.station, side=raw.side, say=raw.say, details=raw.details,
            seconds=raw.seconds, cues=raw.cues, checkin=bool(raw.checkin),
        )

    @staticmethod
    def copy(repeat: _RawStep, origin: _RawStep, index: int, *, first: bool, last: bool) -> Step:
        assert origin.title is not None and origin.say is not None and origin.seconds is not None
        assert origin.station is not None
        # A copy stands where its move stands, unless the repeat step moves it (all of them to
        # `station`, or each station by the `stations` mapping).
        station = repeat.station or (repeat.stations or {}).get(origin.station.id, origin.station)
        side = repeat.side if repeat.side is not None else origin.side
        label = f"Repeat of step {origin.number}" + (f", {side} side" if side else "")
        say = f"{label}: {origin.say}"
        if first and repeat.say:
            say = f"{repeat.say} {say}"
        # Copies keep the flags of their moves unless the repeat step decides for all of them.
        checkin = bool(origin.checkin) if repeat.checkin is None else repeat.checkin and last
        return Step(
            index=index, number=repeat.number, origin=origin.number, title=origin.title,
            station=station, side=side, say=say, details=origin.details,
            seconds=repeat.seconds if repeat.seconds is not None else origin.seconds,
            cues=origin.cues + tuple(c for c in repeat.cues if c not in origin.cues),
            checkin=checkin,
        )

    def repeat(self, node: yaml.Node, path: str) -> tuple[int, ...] | None:
        expected = REPEAT_EXPECTED
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not items:
            self.problem(node, path, expected)
            return None
        numbers: list[int] = []
        for item in items:
            if not isinstance(item, yaml.ScalarNode):
                self.problem(item, path, expected)
                return None
            number = _construct(item) if item.tag == _INT else None
            if isinstance(number, int) and number > 0:
                numbers.append(number)
                continue
            match = _RANGE.match(item.value) if item.tag == _STR else None
            if match is None:
                self.problem(item, path, f"{expected}, got {item.value!r}")
                return None
            low, high = int(match[1]), int(match[2])
            if low < 1 or low > high:
                self.problem(item, path, f"range {item.value!r} must go from a lower step "
                             "number to a higher one, e.g. 3-5")
                return None
            if high - low >= MAX_STEPS:
                self.problem(item, path, f"range {item.value!r} names {high - low + 1} steps; "
                             f"a protocol has at most {MAX_STEPS}")
                return None
            numbers.extend(range(low, high + 1))
        twice = sorted({n for n in numbers if numbers.count(n) > 1})
        if twice:
            # Three copies of one move in a row would be three check-ins, three announcements:
            # never what a file means. Another repeat step says it on purpose.
            self.problem(node, path, f"{_numbers('step', twice)} "
                         f"{'is' if len(twice) == 1 else 'are'} named more than once; a repeat "
                         "copies each move once (to do a move again later, add another repeat "
                         "step)")
            return None
        return tuple(numbers)

    # -- field helpers ---------------------------------------------------------------------------

    def mapping(
        self, node: yaml.Node | None, path: str, allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
    ) -> dict[str, yaml.Node] | None:
        """The fields of a mapping node, after checking for unknown, duplicate, missing keys."""
        if node is None:
            return None
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, f"expected fields ({', '.join(allowed)}), "
                         f"got {_describe(node)}")
            return None
        fields: dict[str, yaml.Node] = {}
        misspelt: set[str] = set()
        for key_node, value in self.pairs(node, path):
            key = key_node.value
            here = _at(path, key)
            if key not in allowed:
                close = _closest(key, allowed)
                if close is None:
                    hint = f"; expected one of: {', '.join(allowed)}"
                elif _has_key(node, close) or close in misspelt:
                    hint = f" (did you mean '{close}'? it is given already)"
                else:
                    # Said in one round: the field it was meant to be is missing, and its value
                    # is checked as that field's now, not after the key is put right.
                    needed = ", which is required and missing" if close in required else ""
                    hint = f" (did you mean '{close}'{needed}?)"
                    misspelt.add(close)
                    if not _is_null(value) or close in required:
                        fields[close] = value
                self.problem(key_node, here, f"unknown field{hint}")
            elif not _is_null(value) or key in required:
                fields[key] = value  # an empty optional field is the same as leaving it out
        for key in required:
            # A misspelt key already said it ("which is required and missing").
            if not _has_key(node, key) and key not in misspelt:
                here = _at(path, key)
                self.problem(node, here, "missing: this field is required")
        return fields

    def pairs(self, node: yaml.MappingNode, path: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        """Key/value pairs with plain keys, each key once (YAML itself lets duplicates pass)."""
        seen: dict[str, int] = {}
        pairs = []
        for key_node, value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in (_STR, _INT):
                self.problem(key_node, path, "expected a plain name as a field key")
                continue
            key = key_node.value
            if key in seen:
                self.problem(key_node, _at(path, key),
                             f"field given twice (first at line {seen[key]})")
                continue
            seen[key] = key_node.start_mark.line + 1
            pairs.append((key_node, value))
        return pairs

    def text(self, node: yaml.Node | None, path: str) -> str | None:
        if node is None:
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            value = " ".join(str(node.value).split())
            if not value:
                self.problem(node, path, "is empty; expected text")
            elif len(value) > MAX_TEXT:
                self.problem(node, path, f"is {len(value)} characters long; a text is at most "
                             f"{MAX_TEXT} (split a long instruction over several steps)")
            else:
                return value
            return None
        # `say: 42` or `say: yes` is a number or a flag to YAML, not something to speak.
        hint = (" (put it in quotes if it is meant as text)"
                if isinstance(node, yaml.ScalarNode) and node.tag in (_INT, _FLOAT, _BOOL)
                else "")
        self.problem(node, path, f"expected text, got {_describe(node)}{hint}")
        return None

    def texts(
        self, node: yaml.Node | None, path: str, default: tuple[str, ...] | None = None,
        single: bool = True,
    ) -> tuple[str, ...] | None:
        """A list of texts (a single text is a list of one, unless `single` is False)."""
        if node is None:
            return default
        if isinstance(node, yaml.ScalarNode) and single:
            one = self.text(node, path)
            return (one,) if one is not None else None
        if not isinstance(node, yaml.SequenceNode):
            field = re.split(r"\.|, ", path)[-1]
            example = (node.value if isinstance(node, yaml.ScalarNode) and node.tag == _STR
                       and 0 < len(node.value) <= 60 else "Never press on the spine.")
            # As YAML would read it back: `['Beside the spine, never on it.']` (else the comma
            # would make two cues of it).
            listed = yaml.safe_dump([example], default_flow_style=True, width=10**6,
                                    allow_unicode=True).strip()
            self.problem(node, path, f"expected a list of texts, e.g. `{field}: {listed}`, "
                         f"got {_describe(node)}")
            return None
        if len(node.value) > MAX_ITEMS:
            self.problem(node, path, f"{len(node.value)} texts; a list holds at most {MAX_ITEMS}")
            return None
        values = [self.text(item, f"{path}, item {i}")
                  for i, item in enumerate(node.value, start=1)]
        if any(value is None for value in values):
            return None
        return tuple(value for value in values if value is not None)

    def texts_joined(self, node: yaml.Node | None, path: str) -> str | None:
        """A text, or a list of sentences spoken in order (a flow of moves) joined into one."""
        parts = self.texts(node, path)
        if parts is None:
            return None
        if not parts:
            self.problem(node, path, "is empty; expected text")
            return None
        joined = " ".join(parts)
        if len(joined) > MAX_TEXT:
            self.problem(node, path, f"is {len(joined)} characters long together; a text is at "
                         f"most {MAX_TEXT} (split a long instruction over several steps)")
            return None
        return joined

    def positive_int(
        self, node: yaml.Node | None, path: str, what: str, maximum: int | None = None
    ) -> int | None:
        if node is None:
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT:
            value = _construct(node)
            if isinstance(value, int) and value > 0:
                if maximum is None or value <= maximum:
                    return value
                self.problem(node, path, f"expected {what} of at most {maximum}, got "
                             f"{_describe(node)}")
                return None
            if isinstance(value, int):
                self.problem(node, path, f"expected {what} above 0, got {_describe(node)}")
                return None
        self.problem(node, path, f"expected {what}, a whole number above 0, got {_describe(node)}")
        return None

    def seconds(self, node: yaml.Node | None, path: str, default: int | None) -> int | None:
        if node is None:
            return default
        return self.positive_int(node, path, "a duration in seconds", MAX_SECONDS)

    def positive_number(
        self, node: yaml.Node | None, path: str, unit: str, default: float, maximum: float
    ) -> float | None:
        if node is None:
            return default
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT, _FLOAT):
            number = _construct(node)
            value = float(number) if isinstance(number, int | float) else 0.0
            if 0 < value <= maximum:
                return value
            if value > maximum:
                self.problem(node, path, f"expected a number of {unit} of at most {maximum:g}, "
                             f"got {_describe(node)}")
                return None
        self.problem(node, path, f"expected a number of {unit} above 0, got {_describe(node)}")
        return None

    def flag(self, node: yaml.Node | None, path: str) -> bool | None:
        if node is None:
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _BOOL:
            return bool(_construct(node))
        self.problem(node, path, f"expected true or false, got {_describe(node)}")
        return None

    def side(self, node: yaml.Node | None, path: str) -> str | None:
        if node is None:
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR and node.value in SIDES:
            return node.value
        self.problem(node, path, f"expected right or left (or leave it out for both sides), "
                     f"got {_describe(node)}")
        return None

    def station_ref(
        self, node: yaml.Node | None, path: str, stations: dict[str, Station]
    ) -> Station | None:
        if node is None:
            return None
        if not (isinstance(node, yaml.ScalarNode) and node.tag in (_STR, _INT)):
            self.problem(node, path, f"expected a station id, got {_describe(node)}")
            return None
        return self.station_id(node, path, stations)

    def station_id(
        self, node: yaml.ScalarNode, path: str, stations: dict[str, Station]
    ) -> Station | None:
        station = stations.get(node.value)
        if station is None and (node.value in self.written_stations or not self.stations_read):
            return None  # that station (or `stations`) has its own error already
        if station is None:
            known = ", ".join(stations) or "none defined"
            close = _closest(node.value, tuple(stations))
            hint = f" (did you mean '{close}'?)" if close else ""
            self.problem(node, path, f"unknown station '{node.value}'{hint}; stations are: {known}")
        return station

    def station_map(
        self, node: yaml.Node | None, path: str, stations: dict[str, Station], is_repeat: bool
    ) -> dict[str, Station] | None:
        """A repeat step's `stations`: station of the copied moves -> station of the copies."""
        if node is None:
            return None
        if not is_repeat:
            self.problem(node, path, "only a repeat step can move its copies to other stations "
                         "(an ordinary step names one `station`)")
            return None
        if not isinstance(node, yaml.MappingNode) or not node.value:
            self.problem(node, path, "expected the stations of the repeated moves, each with the "
                         "station its copies move to, e.g. `{left: right}`, got "
                         f"{_describe(node)}")
            return None
        mapping: dict[str, Station] = {}
        ok = True
        for key_node, value in self.pairs(node, path):
            here = _at(path, key_node.value)
            source = self.station_id(key_node, here, stations)
            target = (self.station_id(value, here, stations)
                      if isinstance(value, yaml.ScalarNode) and value.tag in (_STR, _INT)
                      else None)
            if not (isinstance(value, yaml.ScalarNode) and value.tag in (_STR, _INT)):
                self.problem(value, here, f"expected a station id, got {_describe(value)}")
            if source is None or target is None:
                ok = False
                continue
            mapping[source.id] = target
        return mapping if ok else None


def _at(path: str, key: str) -> str:
    """The path of `key` under `path`: "checkins.question", "stations.head.announce"; under a
    step, which is named by its number, after a comma: "step 2, seconds"."""
    if not path:
        return key
    return f"{path}, {key}" if _STEP_LABEL.fullmatch(path) else f"{path}.{key}"


def _step_number(node: yaml.Node) -> int | None:
    """An item of `steps`'s own `number`, when it can be read. Problems name a step by it
    ("step 12": what the file says and the practitioner hears), else by its place ("the 3rd
    step")."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if (isinstance(key, yaml.ScalarNode) and key.value == "number"
                    and isinstance(value, yaml.ScalarNode) and value.tag == _INT):
                number = _construct(value)
                return number if isinstance(number, int) and number > 0 else None
    return None


_NTH_STEP = r"the \d+(?:st|nd|rd|th) step"
_STEP_LABEL = re.compile(rf"step \d+(?: \({_NTH_STEP}\))?|{_NTH_STEP}")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _meant_keys(node: yaml.MappingNode, allowed: tuple[str, ...]) -> set[str]:
    """The allowed keys a mapping gives, misspelt ones read as what they are closest to."""
    keys = {key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
    return {key if key in allowed else _closest(str(key), allowed) or "" for key in keys}


def _default_name(station_id: str) -> str:
    """The short name of a station given none: its id, as words ("left_side" -> "Left side")."""
    words = " ".join(station_id.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:]


def _construct(node: yaml.ScalarNode) -> object:
    """The Python value of one scalar node, by YAML's safe rules (`0x10`, `1_000`, `yes`...)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL


def _has_key(node: yaml.MappingNode, key: str) -> bool:
    return any(isinstance(k, yaml.ScalarNode) and k.value == key for k, _ in node.value)


def _describe(node: yaml.Node | None) -> str:
    if node is None or _is_null(node):
        return "nothing"
    if isinstance(node, yaml.MappingNode):
        return "a set of fields"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = str(node.value)
    shown = value if len(value) <= 40 else value[:37] + "..."
    if node.tag in (_INT, _FLOAT):
        return shown  # "got 0", "got 1.5": the number as written says what it is
    if node.tag == _BOOL:
        return f"{shown} (true or false to YAML)"
    return f"text {shown!r}" if node.tag == _STR else f"a value ({shown})"


def _numbers(noun: str, numbers: list[int]) -> str:
    """`step 4`, `steps 4-9`, `steps 2, 5 and 7-9`: sorted, runs as ranges."""
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    if len(parts) == 1 and runs[0][0] == runs[0][1]:
        return f"{noun} {parts[0]}"
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"{noun}s {listed}"


def _closest(word: str, choices: tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None
