"""Offline training of the models that ship with voice-guide."""
