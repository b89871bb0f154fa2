"""`python -m voice_guide` is the same as the `voice-guide` command."""

from voice_guide.cli import main

if __name__ == "__main__":  # a spawned worker process imports this module too
    raise SystemExit(main())
