"""`voice-guide devices [--json]`: the audio inputs and outputs, and which are the defaults.

Lists PortAudio's devices (by index) and the sound server's sinks and sources (by name). Either
form, or a part of a name, is what `--practitioner-device`, `--room-device`, `--input-device`
and `say --device` accept.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from voice_guide.cli import fail

if TYPE_CHECKING:
    from voice_guide.devices import DeviceList

HELP = "list audio inputs and outputs (index, name, channels, sample rate, defaults)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from voice_guide.devices import DeviceError, list_devices

    try:
        devices = list_devices()
    except DeviceError as error:
        return fail(str(error))
    if args.json:
        print(json.dumps(devices.to_json(), indent=2))
        return 0
    print(devices_text(devices))
    return 0


def devices_text(devices: DeviceList) -> str:
    lines: list[str] = []
    for title, listed in (("Outputs", devices.outputs), ("Inputs", devices.inputs)):
        lines.append(f"{title}:")
        if not listed:
            lines.append("  (none)")
            continue
        lines.append(f"  {'':1} {'index':>5}  {'name':<28} {'channels':>8} {'rate':>7}  via")
        for device in listed:
            mark = "*" if device.default else " "
            index = "-" if device.index is None else str(device.index)
            via = device.api + (f" ({device.description})" if device.description else "")
            lines.append(
                f"  {mark} {index:>5}  {device.name:<28} {device.channels:>8} "
                f"{device.sample_rate:>7.0f}  {via}"
            )
    server = devices.server or "none answering (sinks and sources are not listed)"
    lines.append(f"Sound server: {server}")
    lines.append("* = default. Choose a device by index, or by (part of) its name.")
    return "\n".join(lines)
