"""voice-guide: an offline, hands-free, voice-guided assistant for massage practitioners."""

__version__ = "0.1.0"
