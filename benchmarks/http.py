"""HTTP benchmark: durable flattrs per second over loopback, beside a bare aiohttp handler.

    python benchmarks/http.py                          # SQLite, the embedded default
    python benchmarks/http.py --database postgresql    # the ``bench`` database on 127.0.0.1

1. set-up (in this process, through the use cases): a fresh database, creators
   with things, funders topped up through the sandbox rail, each with a
   personal access token (scope ``flattr``);
2. ``gateway serve`` in its own process on 127.0.0.1, the embedded default
   configuration with the database above;
3. wrk (Debian's package ``wrk``) posts ``/api/v1/things/{id}/flattr`` with the
   funders' tokens (each used once first, as by a funder active in the last
   minute), every request a new (funder, thing) pair, so that every
   answer is a committed flattr; then the flattrs in the database are counted
   and must equal the 200 answers;
4. the same load against a bare aiohttp handler (parse the JSON body, answer
   JSON) in its own process: the ceiling this machine puts on any aiohttp
   service.

Funders are many so that no token meets the per-caller rate limit on flattrs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file's name is the standard library's ``http``: take its folder off the path before anything imports that.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"

LUA = """
-- Every request a new (funder, thing) pair: thread k takes requests k, k + threads, k + 2 * threads...
local pairs_ = {}
local counter = 0
local threads = %(threads)d
local thread_id = 0
local next_id = 0
local tokens = {%(tokens)s}
local things = {%(things)s}

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  thread_id = tonumber(id)
end

function request()
  local i = thread_id + counter * threads
  counter = counter + 1
  local funder = (i %% #tokens) + 1
  local thing = (math.floor(i / #tokens) %% #things) + 1
  return wrk.format("POST", "/api/v1/things/" .. things[thing] .. "/flattr",
    {["Authorization"] = "Bearer " .. tokens[funder], ["Content-Type"] = "application/json"}, '{"points": 1}')
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server at {url} did not come up in {timeout:.0f} s")


def set_up(url: str, funders: int, creators: int, things_each: int) -> tuple[list[str], list[int]]:
    """Creators with things, funders with money and a flattr token; returns (tokens, thing ids)."""
    from moneyed import Money

    from gateway.config import load_settings
    from gateway.deployment import open_deployment
    from gateway.storage.migrate import upgrade
    from gateway.usecases.identity.tokens import create_access_token
    from gateway.usecases.participants import register_participant
    from gateway.usecases.things import register_thing
    from gateway.usecases.top_up import top_up

    deployment = open_deployment(load_settings(database_url=url))
    upgrade(deployment.engine)
    things = []
    for c in range(creators):
        owner = register_participant(deployment, f"creator{c}")
        things += [
            register_thing(deployment, owner, f"https://example.org/{c}/{t}", f"Work {c}.{t}").id for t in range(things_each)
        ]
    tokens = []
    for f in range(funders):
        funder = register_participant(deployment, f"funder{f}", preferred_currency="EUR")
        top_up(deployment, funder, Money("20.00", "EUR"), "sandbox", key=f"bench-{f}")
        tokens.append(create_access_token(deployment, funder, "bench", ["flattr", "read"])[1])
    deployment.close()
    return tokens, things


def fresh_database(kind: str, workdir: Path, postgres_url: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    from sqlalchemy import text

    from gateway.storage.engine import make_engine

    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return postgres_url


def count_flattrs(url: str) -> int:
    from sqlalchemy import func, select

    from gateway.storage.engine import make_engine
    from gateway.storage.schema import flattrs

    engine = make_engine(url)
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(flattrs)).scalar()
    engine.dispose()
    return count


def run_wrk(base: str, script: Path, args) -> dict:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "-s", str(script), base]
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> dict:
    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests": requests,
        "per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def serve_gateway(url: str, port: int, workdir: Path, processes: int, profile: str | None = None) -> subprocess.Popen:
    gateway = Path(sys.executable).with_name("gateway")
    command = [
        str(gateway),
        "--database-url",
        url,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--processes",
        str(processes),
    ]
    if profile:  # written when the server stops (on SIGTERM, aiohttp shuts down in order)
        command = [sys.executable, "-m", "cProfile", "-o", str(Path(profile).resolve()), *command]
    return subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def serve_bare(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--stage", "bare", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def bare_app():
    """The least an aiohttp JSON service does per request: parse the body, answer JSON."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"thing": request.match_info["thing"], "points": body.get("points")}, status=200)

    app = web.Application()
    app.router.add_post("/api/v1/things/{thing}/flattr", handle)
    app.router.add_get("/api/v1/openapi.json", lambda request: web.json_response({}))
    return app


def warm_up(base: str, tokens: list[str]) -> None:
    """One read with each token first: the steady state of funders who used the API in the last minute.

    A token's first use in a minute also records when it was used (a write); in a real day that is one
    write a minute per active token, but a 10-second run would make it one more write per flattr.
    """
    for token in tokens:
        request = urllib.request.Request(base + "/api/v1/me/flattrs", headers={"Authorization": f"Bearer {token}"})
        urllib.request.urlopen(request, timeout=10).read()


def measure(label: str, process: subprocess.Popen, port: int, script: Path, args, tokens: list[str] = ()) -> dict:
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/api/v1/openapi.json")
        warm_up(base, tokens)
        result = run_wrk(base, script, args)
    finally:
        process.terminate()
        process.wait(timeout=30)
    result["label"] = label
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--funders", type=int, default=2000)
    parser.add_argument("--creators", type=int, default=50)
    parser.add_argument("--things-each", type=int, default=40)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--processes", type=int, default=1, help="gateway serve --processes (default 1, as gateway serve)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--profile", help="write a cProfile of the gateway server to this file")
    parser.add_argument("--stage", choices=["bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage == "bare":
        from aiohttp import web

        web.run_app(bare_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)
        return
    if not shutil.which("wrk"):
        raise SystemExit("this benchmark drives the load with wrk: apt install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="http-bench-"))
    url = fresh_database(args.database, workdir, args.postgres_url)
    started = time.perf_counter()
    tokens, things = set_up(url, args.funders, args.creators, args.things_each)
    print(f"set up {len(tokens):,} funders and {len(things):,} things in {time.perf_counter() - started:.1f} s", flush=True)
    script = workdir / "flattr.lua"
    script.write_text(
        LUA
        % {
            "threads": args.threads,
            "tokens": ", ".join(json.dumps(t) for t in tokens),
            "things": ", ".join(str(t) for t in things),
        }
    )
    port = free_port()
    gateway = measure(
        "gateway: POST /things/{id}/flattr",
        serve_gateway(url, port, workdir, args.processes, args.profile),
        port,
        script,
        args,
        tokens,
    )
    gateway["durable"] = count_flattrs(url)
    port = free_port()
    bare = measure("bare aiohttp handler", serve_bare(port), port, script, args)
    report(args, gateway, bare)
    if args.json:
        Path(args.json).write_text(json.dumps({"gateway": gateway, "bare": bare}, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)


def report(args, gateway: dict, bare: dict) -> None:
    print(
        f"\n{args.connections} connections, {args.threads} wrk thread(s), {args.duration} s each, {args.database}, "
        f"{args.processes} gateway process(es)\n"
    )
    print("| server | requests | per second | p50 ms | p99 ms | non-2xx | flattrs in the database |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in (gateway, bare):
        durable = f"{r['durable']:,}" if "durable" in r else "-"
        print(
            f"| {r['label']} | {r['requests']:,} | {r['per_second']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['non_2xx']:,} | {durable} |"
        )
    answered = gateway["requests"] - gateway["non_2xx"]
    if gateway["durable"] < answered:  # more is fine: requests still in flight when wrk stopped counting
        print(f"\nWARNING: {answered:,} flattrs answered 200, only {gateway['durable']:,} in the database")


if __name__ == "__main__":
    main()
