"""Listing and resolving devices against a private PulseAudio server (sinks `earbud`, `room`)."""

from __future__ import annotations

import json

import pytest
from pulse import PulseServer

from voice_guide.cli import main
from voice_guide.devices import (
    DeviceError,
    _spec,
    list_devices,
    pulse_sink_exists,
    resolve_input,
    resolve_output,
)

pytestmark = pytest.mark.audio


def test_lists_portaudio_devices_and_the_servers_sinks_and_sources(pulse: PulseServer) -> None:
    devices = list_devices()
    outputs = {d.name: d for d in devices.outputs}
    inputs = {d.name: d for d in devices.inputs}
    assert {"pulse", "earbud", "room"} <= set(outputs)
    assert {"earbud.monitor", "room.monitor"} <= set(inputs)
    assert outputs["pulse"].index is not None and outputs["pulse"].api == "ALSA"
    assert outputs["room"].index is None and outputs["room"].api == "pulse"
    assert outputs["room"].channels == 2 and outputs["room"].sample_rate in (44100, 48000)
    assert outputs["earbud"].default  # the fixture makes earbud the server's default sink
    assert sum(d.default for d in devices.outputs if d.api != "pulse") == 1
    assert devices.server is not None and "pulseaudio" in devices.server


def test_resolves_a_sink_by_name_or_part_of_it(pulse: PulseServer) -> None:
    room = resolve_output("room")
    assert room.pulse == "room" and room.device is not None
    assert resolve_output("bud").pulse == "earbud"
    assert resolve_output("ROOM").pulse == "room"


def test_resolves_a_portaudio_device_by_index_or_name(pulse: PulseServer) -> None:
    by_name = resolve_output("pulse")
    assert by_name.pulse is None and by_name.device is not None
    assert resolve_output(str(by_name.device)) == by_name
    assert resolve_output(by_name.device).device == by_name.device
    assert resolve_output(None).is_default


def test_resolves_a_monitor_source_as_input(pulse: PulseServer) -> None:
    assert resolve_input("room.monitor").pulse == "room.monitor"
    assert resolve_input("room").pulse == "room.monitor"  # sinks are not inputs


def test_unknown_device_is_a_clear_error_listing_what_exists(pulse: PulseServer) -> None:
    with pytest.raises(DeviceError) as caught:
        resolve_output("kitchen speaker")
    message = str(caught.value)
    assert "kitchen speaker" in message
    assert "earbud" in message and "room" in message and "pulse" in message
    assert "\n" not in message
    with pytest.raises(DeviceError, match="index 99"):
        resolve_output("99")


def test_ambiguous_name_is_an_error(pulse: PulseServer) -> None:
    with pytest.raises(DeviceError, match="ambiguous"):
        resolve_input("monitor")  # earbud.monitor and room.monitor


def test_a_removed_sink_is_gone(pulse: PulseServer) -> None:
    assert pulse_sink_exists("room")
    pulse.unload_sink("room")
    assert not pulse_sink_exists("room")
    with pytest.raises(DeviceError):
        resolve_output("room")


def test_devices_command_json(pulse: PulseServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"outputs", "inputs", "server"}
    room = next(d for d in data["outputs"] if d["name"] == "room")
    assert set(room) >= {"index", "name", "channels", "sample_rate", "default"}


def test_devices_command_text(pulse: PulseServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "Outputs:" in out and "Inputs:" in out
    assert "room.monitor" in out
    assert "* = default" in out


def test_sample_spec_parsing() -> None:
    assert _spec("s16le 2ch 44100Hz") == (2, 44100.0)
    assert _spec("float32le 1ch 22050Hz") == (1, 22050.0)
    assert _spec("") == (0, 0.0)
