"""Speech out: text rendered to PCM (`tts`), played on the practitioner or room route (`player`)."""
