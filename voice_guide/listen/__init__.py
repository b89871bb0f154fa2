"""Listening: segmenter (speech/silence), recognizers (pocketsphinx, vosk) behind one interface."""
