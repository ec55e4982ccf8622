"""The tests' own third-party rail (``tests/rails/scripted``), installed as a package, and its provider's folder."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).parent / "rails" / "scripted"
SECRET = "whsec_scripted_test"


def install_scripted_rail(target: Path) -> Path:
    """``pip install`` the package into ``target`` and put it on the path: its entry point is then found as any other's."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(PACKAGE),
        ],
        check=True,
        capture_output=True,
    )
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    assert any(entry.name == "scripted" for entry in metadata.entry_points(group="gateway.rails"))
    return target


def scripted_options(store: Path, currencies: list[str] | None = None) -> dict[str, Any]:
    store.mkdir(parents=True, exist_ok=True)
    return {"store": str(store), "secret": SECRET, "currencies": currencies or ["EUR", "JPY"]}


def script(store: Path, *directives: str) -> None:
    """The provider's next answers, one a call (see the rail's docstring)."""
    (store / "script.json").write_text(json.dumps(list(directives)))


def provider_state(store: Path, operation: str) -> dict[str, Any] | None:
    path = store / (operation.replace(":", "_") + ".json")
    return json.loads(path.read_text()) if path.exists() else None


def set_provider_state(store: Path, operation: str, state: str) -> None:
    """What happens at the provider without us: a 3-D Secure check passed, a dispute opened, a transfer reversed."""
    path = store / (operation.replace(":", "_") + ".json")
    kept = json.loads(path.read_text())
    path.write_text(json.dumps({**kept, "state": state}))


def signed(event: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Scripted-Signature": signature, "Content-Type": "application/json"}
