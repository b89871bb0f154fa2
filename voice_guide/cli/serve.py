"""`voice-guide serve`: a day at the clinic. Waits for "start session", runs the session as
`run` does, and after its summary and rest waits for the next one (`voice_guide.day`).

The options are `run`'s (`--client NAME` names the client of every session this process starts;
`--journal` and `--resume` are one session's, so serve has neither: it offers an unfinished
session itself). `--print-unit` prints a systemd user unit that runs this command line.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from voice_guide.cli import fail
from voice_guide.cli import run as run_cli
from voice_guide.cli.say import voice_from

HELP = "wait for 'start session', run the session, wait for the next one (a day at the clinic)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    run_cli.add_arguments(parser)
    parser.add_argument(
        "--print-unit", action="store_true",
        help="print a systemd user unit that runs this command (restart on failure, logs in "
        "the journal) and exit",
    )


def run(args: argparse.Namespace) -> int:
    from voice_guide.app import LiveError, serve_day

    if args.print_unit:
        sys.stdout.write(systemd_unit(_serve_arguments(sys.argv)))
        return 0
    if args.journal is not None:
        return fail("serve keeps one journal per session in the sessions folder; --journal "
                    "names one session's file (use run --journal)")
    if args.resume:
        return fail("serve offers an unfinished session itself (say resume); --resume is "
                    "run's")
    run_cli.show_progress()
    _, problem = voice_from(args, "run")
    if problem:
        return fail(problem)
    try:
        options = run_cli.session_options(args)
    except ValueError as error:
        return fail(str(error))
    try:
        stopped = serve_day(options, run_cli.listening_options(args),
                            run_cli.speech_options(args), interactive=sys.stdin.isatty())
    except LiveError as error:
        return fail(str(error))
    return stopped.exit_status


def systemd_unit(arguments: list[str]) -> str:
    """A systemd user unit for `serve` with `arguments`: started with the user's session (or at
    boot, with lingering), restarted on failure, its output in the journal."""
    command = shlex.join([sys.executable, "-m", "voice_guide", "serve", *arguments])
    return f"""# ~/.config/systemd/user/voice-guide.service
# systemctl --user daemon-reload && systemctl --user enable --now voice-guide
# At boot, before anyone logs in: loginctl enable-linger $USER
# Logs: journalctl --user -u voice-guide -f
[Unit]
Description=voice-guide: waits for "start session" and guides each massage session
After=pipewire-pulse.service pulseaudio.service sound.target

[Service]
ExecStart={command}
Restart=on-failure
RestartSec=3
Environment=PYTHONUNBUFFERED=1
StandardOutput=journal
StandardError=journal

[Install]
WantedBy=default.target
"""


def _serve_arguments(argv: list[str]) -> list[str]:
    """The options typed after `serve`, but --print-unit."""
    if "serve" not in argv:
        return []
    return [a for a in argv[argv.index("serve") + 1:] if a != "--print-unit"]
