"""Speech out: what the guide says, rendered ahead and played on the practitioner's or the
room's route; and the microphone gate, which keeps the recognizer from hearing the room speaker.

The modules, in the order a `Say` travels:

- `speaker.py`  `Speaker`: the voice the session's actions go to; renders each `Say`, queues it
                on its route, shows the text when it cannot be spoken.
- `tts.py`      text -> `Pcm`, kept in memory and rendered ahead; picks the engine below.
- `cache.py`    `SpeechCache`: rendered speech kept on disk from one run to the next.
- `voices.py`   the voices there are, and the one-line complaint about a pace one cannot do.
- `natural.py`  the natural voice (hibari-tts `heart`), the default; loaded when first needed.
- `espeak.py`   espeak-ng's voices (pyttsx3), the fallback; the complaint about an unknown voice.
- `speech.py`   what all of them share: `Voice` (the settings), `Pcm`, `SpeechError`.
- `routes.py`   `Player`: the two routes (practitioner, room), which device each plays on, and
                the fallback when a device fails (replaying what it was saying).
- `channel.py`  `OutputChannel`: one output stream on one device, its queue of `Utterance`s,
                and `OutputWatch`, which finds a device that has failed.
- `gate.py`     `MicGate`: when the microphone may be hearing us (audible speech plus a tail).
                The output channels report to it; the listening side feeds each microphone
                block through `MicGate.feed` with the block's capture time.
- `player.py`   the old names (`Player`, `MicGate`, `Utterance`, `capture_time`), re-exported.
"""
