#!/usr/bin/env bash
# Installs the Debian packages voice-guide needs; fast no-op when they are all present.
# espeak-ng + libespeak-ng1: pyttsx3's Linux voice and test speech; flite: a second test voice;
# libportaudio2: sounddevice; pulseaudio(-utils): the headless null-sink devices tests play into;
# sox: handy for inspecting audio; pocketsphinx-testdata: 47 s of real human speech (LibriVox
# readings, spoken card names and digits) that the recognition tests and benchmarks use as talk
# that must never be heard as a command.
set -euo pipefail
packages=(espeak-ng libespeak-ng1 libportaudio2 pulseaudio pulseaudio-utils sox flite
          pocketsphinx-testdata)
# A fresh Debian has python3 without venv/ensurepip (python3-venv), and `make` makes a .venv:
# asked for only when the python3 on PATH cannot make one (a pyenv python3 brings its own).
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  packages+=(python3 python3-venv)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "voice-guide needs these system packages: ${missing[*]}" >&2
  echo "Run: sudo apt-get update && sudo ${cmd[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" "${cmd[@]}" >/dev/null
