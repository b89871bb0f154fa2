"""Listening: segmenter (speech/silence), recognizers (whisper, vosk) behind one interface, and
the speaker profiles that sharpen them."""
