"""The ``gateway`` command, run as a real process."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from gateway.config import DEFAULT_CONFIG
from gateway.storage.migrate import head_revision


def gateway(*args, cwd=None, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )


def test_walkthrough_runs_a_whole_period_and_checks_the_ledger(tmp_path):
    result = gateway("walkthrough", "--database", str(tmp_path / "walkthrough.sqlite3"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "erin: budget 10.00 EUR, fee 1.00 EUR" in out
    assert out.count("2.25 EUR") >= 6 and "4.50 EUR" in out  # the worked examples
    assert "bob withdraws 4.00 EUR -> 4.46 USD at 1.1172 (ecb, 2026-10-30): succeeded" in out
    assert "no_means" in out and "own_thing" in out and "below_minimum" in out
    assert "ledger check: every invariant holds" in out
    # The database it leaves passes the standalone check too.
    check = gateway("--database-url", f"sqlite:///{tmp_path / 'walkthrough.sqlite3'}", "ledger", "check")
    assert check.returncode == 0, check.stderr


def test_ledger_check_names_a_breach(tmp_path):
    path = tmp_path / "walkthrough.sqlite3"
    assert gateway("walkthrough", "--database", str(path)).returncode == 0
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE accounts SET balance = balance + 1 WHERE id = (SELECT min(id) FROM accounts)")
    result = gateway("--database-url", f"sqlite:///{path}", "ledger", "check")
    assert result.returncode == 1
    assert "ledger_breach: L2 cached balance: account #" in result.stderr
    assert "ledger_breach: L1 zero-sum: the balances in EUR add up to 1, not 0" in result.stderr


def test_db_upgrade_then_settle_then_report(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.sqlite3'}"
    assert f"database at schema {head_revision()}" in gateway("--database-url", url, "db", "upgrade").stdout
    settled = gateway("--database-url", url, "settle", "--period", "2026-10")
    assert settled.returncode == 0 and "period 2026-10: closed" in settled.stdout
    assert gateway("--database-url", url, "report", "--period", "2026-10").returncode == 0


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["settle", "--period", "2026-13"], 1, "gateway: validation_error: '2026-13' is not a month period"),
        (["settle", "--period", "2999-01"], 1, "gateway: period_not_ended:"),
        (["report", "--period", "2026-09"], 1, "gateway: not_found: the period 2026-09 has not been settled"),
        (["frobnicate"], 2, "gateway: error: argument COMMAND: invalid choice: 'frobnicate'"),
        (["settle", "--periode", "x"], 2, "gateway: error: unrecognized arguments"),
        (["--config", "/nonexistent.toml", "currencies"], 1, "gateway: config_error: /nonexistent.toml: cannot read"),
    ],
)
def test_bad_arguments_give_one_line_and_a_non_zero_exit(tmp_path, args, code, message):
    url = f"sqlite:///{tmp_path / 'g.sqlite3'}"
    gateway("--database-url", url, "db", "upgrade")
    result = gateway("--database-url", url, *args)
    assert result.returncode == code
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_commands_refuse_an_unmigrated_database(tmp_path):
    result = gateway("--database-url", f"sqlite:///{tmp_path / 'empty.sqlite3'}", "ledger", "check")
    assert result.returncode == 1 and "run `gateway db upgrade`" in result.stderr


def test_every_command_has_help():
    for args in (
        ["--help"],
        ["demo", "--help"],
        ["walkthrough", "--help"],
        ["settle", "--help"],
        ["ledger", "check", "--help"],
        ["db", "upgrade", "--help"],
        ["currencies", "--help"],
        ["report", "--help"],
    ):
        result = gateway(*args)
        assert result.returncode == 0 and "usage: gateway" in result.stdout


def test_currencies_lists_the_embedded_default():
    result = gateway("--config", str(DEFAULT_CONFIG), "currencies")
    assert result.returncode == 0 and "EUR (default)" in result.stdout and "rails: sandbox" in result.stdout


@pytest.mark.parametrize("processes", [1, 2])
def test_serve_answers_on_loopback_and_stops_on_sigterm(tmp_path, processes):
    import json
    import signal
    import socket
    import time
    import urllib.request

    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    assert gateway("--database-url", url, "db", "upgrade").returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli.main",
            "--database-url",
            url,
            "serve",
            "--port",
            str(port),
            "--processes",
            str(processes),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2) as answer:
                    assert json.load(answer)["openapi"].startswith("3.1")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (
                    server.stderr.read() if server.poll() is not None else "timeout"
                )
                time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert f"http://127.0.0.1:{port}/api/v1 with {processes} process(es)" in server.stdout.read()
    finally:
        if server.poll() is None:
            server.kill()


GOOD = DEFAULT_CONFIG.read_text()
LETS = '\n[currencies.LETS]\nkind = "mutual_credit"\nminimum_budget = "5"\n'

# (the deployment file's text, or None for the embedded default; --database-url, or None; the line on stderr)
START_UP_FAILURES = [
    pytest.param(
        GOOD.replace("Flattr gateway", "Flattr caf\u00e9").encode("latin-1"),
        None,
        "gateway: config_error: {file}: not UTF-8 text (line 9: byte 0xe9)",
        id="not-utf8",
    ),
    pytest.param(
        GOOD.replace("[rails.sandbox]", '[rails.sandbox]\nfailure_suffix = "x"'),
        None,
        "gateway: config_error: {file}: rails.sandbox.failure_suffix: expected a whole number from 0 to 99",
        id="rail-option",
    ),
    pytest.param(
        GOOD.replace('currencies = ["EUR", "USD", "GBP"]', 'currencies = "EUR"'),
        None,
        "gateway: config_error: {file}: rails.sandbox.currencies: expected a list of currency codes",
        id="rail-currencies-string",
    ),
    pytest.param(
        GOOD.replace("weighted_points = true", 'weighted_points = "yes"'),
        None,
        "gateway: config_error: {file}: platform.weighted_points: input should be a valid boolean",
        id="switch-string",
    ),
    pytest.param(
        GOOD.replace("weighted_points = true", "weighted_points = 1"),
        None,
        "gateway: config_error: {file}: platform.weighted_points: input should be a valid boolean",
        id="switch-number",
    ),
    pytest.param(
        GOOD.replace("max_points = 5", "max_points = 5\nsettle_batch = true"),
        None,
        "gateway: config_error: {file}: platform.settle_batch: input should be a valid integer",
        id="count-switch",
    ),
    pytest.param(
        GOOD.replace('minimum_budget = "2.00"', "minimum_budget = true", 1),
        None,
        "gateway: config_error: {file}: currencies.EUR.minimum_budget: expected an amount",
        id="amount-switch",
    ),
    pytest.param(
        GOOD + LETS + "decimals = 40\n",
        None,
        "gateway: config_error: {file}: currencies.LETS.decimals: expected a whole number from 0 to 12, got 40",
        id="decimals",
    ),
    pytest.param(
        None,
        "mysql://gateway:secret@db.example/x",
        "gateway: config_error: the database URL mysql://gateway:***@db.example/x: its driver is not installed",
        id="driver-missing",
    ),
    pytest.param(
        None,
        "sqlite:////nonexistent/dir/x.sqlite3",
        "gateway: database_unreachable: cannot connect to the database sqlite:////nonexistent/dir/x.sqlite3:",
        id="sqlite-unopenable",
    ),
    pytest.param(
        None,
        "postgresql://postgres:secret@127.0.0.1:1/x",
        "gateway: database_unreachable: cannot connect to the database postgresql+psycopg://postgres:***@127.0.0.1:1/x:",
        id="postgresql-refused",
    ),
]


def assert_one_line(result, line):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr and "secret" not in result.stderr
    assert result.stderr.startswith(line) and result.stderr.count("\n") == 1, result.stderr


def start_up(tmp_path, text, url, *command):
    args = []
    if text is not None:
        path = tmp_path / "deploy.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        args += ["--config", str(path)]
    if url is not None:
        args += ["--database-url", url]
    return gateway(*args, *command, cwd=tmp_path)


@pytest.mark.parametrize("text, url, line", START_UP_FAILURES)
def test_a_start_up_failure_is_one_line(tmp_path, text, url, line):
    result = start_up(tmp_path, text, url, *(["currencies"] if url is None else ["db", "upgrade"]))
    assert_one_line(result, line.format(file=tmp_path / "deploy.toml"))


@pytest.mark.parametrize("text, url, line", START_UP_FAILURES)
def test_serve_refuses_before_it_binds_or_forks(tmp_path, text, url, line):
    result = start_up(tmp_path, text, url, "serve", "--port", "0", "--processes", "2")
    assert_one_line(result, line.format(file=tmp_path / "deploy.toml"))
    assert "serving the API" not in result.stdout


def test_a_silent_postgresql_stops_start_up_within_the_connect_timeout(tmp_path):
    """A server that takes the connection and never answers: without a connect timeout, this hangs."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        result = gateway("--database-url", f"postgresql://postgres@127.0.0.1:{port}/x", "db", "upgrade", timeout=60)
    line = f"gateway: database_unreachable: cannot connect to the database postgresql+psycopg://postgres@127.0.0.1:{port}/x:"
    assert_one_line(result, line)
