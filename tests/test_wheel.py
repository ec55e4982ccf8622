"""The wheel: built from the source tree, installed in a fresh virtualenv, run in an empty folder.

``pip install .`` and a built wheel must give a ``gateway`` command that needs
nothing from the source tree: the embedded default deployment, the schema
migrations and the plugins all come from the wheel.

The wheel is built from a copy of the tree, without the build outputs a
checkout may hold: setuptools puts whatever an earlier build left in
``build/`` into the next wheel, and a build in the tree itself would write
there. The build uses the test environment's setuptools (no build
isolation, no index), so that one must satisfy pyproject's ``[build-system]``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from tests.processes import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"gateway", "adapters", "currencies"}
# What `gateway db upgrade` and `gateway walkthrough` read as files, not as modules.
DATA = {"gateway/default.toml", "gateway/storage/migrations/env.py", "gateway/storage/migrations/script.py.mako"}
NOT_SOURCE = shutil.ignore_patterns(".*", "venv", "build", "dist", "*.egg-info", "__pycache__", "*.sqlite3*")

# Run in the new virtualenv: where the project's code comes from.
WHERE = """
import importlib.metadata, adapters, currencies, gateway, gateway.cli.main
for path in (gateway.__file__, gateway.cli.main.__file__, adapters.__file__, currencies.__file__):
    print(path)
print(importlib.metadata.distribution("flattr-gateway").locate_file(""))
"""

pytestmark = pytest.mark.slow


def _environment() -> dict[str, str]:
    """This process's environment without the deployment's variables nor a path to the source tree."""
    dropped = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV"}
    return {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_") and key not in dropped}


def _run(args: list[str | Path], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    command = [str(arg) for arg in args]
    result = subprocess.run(
        command, cwd=cwd, env=_environment(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} (in {cwd}) exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
    return result


def _build_wheel(tmp_path: Path) -> tuple[Path, Path]:
    """The wheel built from a clean copy of the source tree, and that copy."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path / "wheelhouse"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--check-build-dependencies",  # a clear error where this setuptools is older than [build-system] asks
            "--no-index",
            "-w",
            out,
            source,  # an absolute path: pip reads a bare word as a name on the index
        ],
        cwd=tmp_path,
        timeout=180,
    )
    wheels = sorted(out.glob("flattr_gateway-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0], source


def _check_contents(wheel: Path, source: Path) -> None:
    """The wheel holds every file of the three packages, and nothing else but its metadata."""
    names = set(zipfile.ZipFile(wheel).namelist())
    files = {name for name in names if not name.split("/")[0].endswith(".dist-info")}
    expected = {
        path.relative_to(source).as_posix()
        for package in PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert DATA <= expected, "the brief's data files moved: update DATA"
    assert any(name.startswith("gateway/storage/migrations/versions/") for name in expected)
    missing, stale = sorted(expected - files), sorted(files - expected)
    assert not missing, f"missing from the wheel (see [tool.setuptools] in pyproject.toml): {missing}"
    assert not stale, f"in the wheel but not in the source tree: {stale}"


def _make_venv(tmp_path: Path) -> Path:
    """A fresh virtualenv that sees the test environment's packages (the dependencies) but not its editable install."""
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], cwd=tmp_path, timeout=60)
    python = venv / "bin" / "python"
    site_packages = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path, timeout=30)
    # --system-site-packages gives the base interpreter's packages; the dependencies are in the test
    # environment. A directory named in a .pth file joins sys.path after the venv's own, and its own
    # .pth files are not read: the test environment's editable install of the project stays off.
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    Path(site_packages.stdout.strip(), "test-environment.pth").write_text("".join(f"{path}\n" for path in ours))
    return venv


def test_the_wheel_runs_in_an_empty_folder(tmp_path):
    wheel, source = _build_wheel(tmp_path)
    _check_contents(wheel, source)

    venv = _make_venv(tmp_path)
    python = venv / "bin" / "python"
    # --force-reinstall: pip sees the test environment's editable install and would take it for this one
    # (it leaves that install alone: it is outside the new environment).
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "--no-deps", "--force-reinstall", wheel],
        cwd=tmp_path,
        timeout=120,
    )

    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run([python, "-c", WHERE], cwd=empty, timeout=60).stdout.split()
    assert len(where) == 5, where
    for path in where:
        assert Path(path).resolve().is_relative_to(venv.resolve()), f"{path} is not the wheel's: {where}"

    upgrade = _run([venv / "bin" / "gateway", "db", "upgrade"], cwd=empty, timeout=120).stdout
    head = ScriptDirectory(str(source / "gateway" / "storage" / "migrations")).get_current_head()
    assert re.search(rf"^database at schema {re.escape(head)} \(sqlite:///gateway\.sqlite3\)$", upgrade, re.M), upgrade
    assert (empty / "gateway.sqlite3").is_file()  # the embedded default's database, in the folder it ran in

    walkthrough = _run([venv / "bin" / "gateway", "walkthrough"], cwd=empty, timeout=120).stdout
    lines = walkthrough.splitlines()
    assert "(embedded default)" in lines[0], walkthrough
    assert any(line.startswith("ledger check: every invariant holds") for line in lines), walkthrough
    assert lines[-1].startswith("the walk-through's database is gateway-walkthrough.sqlite3"), walkthrough
    assert (empty / "gateway-walkthrough.sqlite3").is_file()

    _serve_demo(venv, empty)
    assert (empty / "gateway-demo.sqlite3").is_file()


def _serve_demo(venv: Path, folder: Path) -> None:
    """``gateway demo`` loads its data and serves the pages (the wheel's templates, catalogs and assets), then stops."""
    port = free_port()
    with (folder / "demo.out").open("w") as out, (folder / "demo.err").open("w") as err:
        demo = subprocess.Popen(
            [venv / "bin" / "gateway", "demo", "--port", str(port)], cwd=folder, env=_environment(), stdout=out, stderr=err
        )
    try:

        def invited() -> bool:
            assert demo.poll() is None, (folder / "demo.err").read_text()
            return f"Open http://127.0.0.1:{port}/" in (folder / "demo.out").read_text()

        wait_until(invited, "gateway demo prints the address to open", 300)  # nine argon2 hashes, on a busy machine too
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Accept-Language": "fr"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert 'role="note"' in answer.read().decode()
    finally:
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0, (folder / "demo.err").read_text()
