"""Schemathesis against the served OpenAPI document: no 500, and every response as the document says.

The application is served on 127.0.0.1 by aiohttp's test server (real HTTP),
and Schemathesis runs as its own process against it, with the token of an
operator who holds every scope, so that it reaches every route past the
authorization checks. Its hooks (``tests/fuzz_hooks.py``) put a NUL, a
control character or a lone surrogate into half of the bodies and queries it
draws: without them a dozen examples an operation never sent PostgreSQL a NUL
(tried: the NUL check of ``rules.text_problem`` taken out, 12 and 40 examples
found nothing; with the hooks, 12 found the 500 on ``GET /things`` and
``GET /things/lookup``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import sys
from pathlib import Path

import pytest

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.identity.principal import OPERATOR, SCOPES
from gateway.usecases.identity.roles import set_role
from gateway.usecases.identity.tokens import create_access_token
from gateway.usecases.participants import register_participant
from gateway.usecases.things import register_thing
from tests.processes import child_env
from tests.support import eur, top_up

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXAMPLES = os.environ.get("GATEWAY_FUZZ_EXAMPLES", "12")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SCHEMATHESIS.exists() and not shutil.which("schemathesis"), reason="schemathesis is not installed"),
]


async def test_schemathesis_finds_no_server_error_and_no_off_schema_response(deployment, aiohttp_server, tmp_path):
    operator_id = register_participant(deployment, "fuzz-operator", preferred_currency="EUR")
    set_role(deployment, operator_id, "operator")
    _, token = create_access_token(deployment, operator_id, "schemathesis", [*SCOPES, OPERATOR])
    top_up(deployment, operator_id, eur("50.00"), "sandbox", key="fuzz-funds")
    creator = register_participant(deployment, "fuzz-creator")
    register_thing(deployment, creator, "https://example.org/fuzzed", "Fuzzed")  # a thing id for the paths to find

    # The rate limits have tests of their own: here each request meets a fresh window, so that the fuzzer's requests
    # reach the code behind the limits instead of 429s.
    fresh_windows = itertools.count(start=0, step=86_400).__next__
    server = await aiohttp_server(create_app(deployment, limiter=MemoryLimiter(clock=fresh_windows)), host="127.0.0.1")
    command = [
        str(SCHEMATHESIS if SCHEMATHESIS.exists() else shutil.which("schemathesis")),
        "run",
        str(server.make_url("/api/v1/openapi.json")),
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        EXAMPLES,
        "--header",
        f"Authorization: Bearer {token}",
        "--workers",
        "1",
        "--seed",
        "2026",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "20",
        # Routes that would end the fuzzer's own access (revoke its token, freeze its account); tests cover them.
        "--exclude-path",
        "/api/v1/me/tokens/{token_id}",
        "--exclude-path",
        "/api/v1/operator/accounts/{participant_id}/freeze",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env={**child_env(), "SCHEMATHESIS_TELEMETRY": "false", "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks"},
    )
    output, _ = await process.communicate()  # the server answers on this loop meanwhile
    report = output.decode(errors="replace")
    if os.environ.get("GATEWAY_FUZZ_REPORT"):
        Path(os.environ["GATEWAY_FUZZ_REPORT"]).write_text(report)
    assert process.returncode == 0, report[-6000:]
