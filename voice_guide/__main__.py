"""`python -m voice_guide` is the same as the `voice-guide` command."""

from voice_guide.cli import main

raise SystemExit(main())
