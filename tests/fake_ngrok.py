#!/usr/bin/env python3
"""A stand-in for the ngrok v3 agent, for tests that drive the real pyngrok.

Run it through a wrapper such as ``#!/bin/sh\\nexec <python> fake_ngrok.py "$@"`` (the
``exec`` matters: pyngrok must hold the fake's own pid). Only the standard library and
aiohttp are used. It speaks what pyngrok 9 uses:

* ``ngrok --version`` / ``ngrok version`` -> ``ngrok version 3.99.0-fake``.
* ``ngrok config add-authtoken TOKEN --config PATH`` (and ``add-api-key``, ``check``):
  edits that file and prints ``Authtoken saved to configuration file: PATH``. It refuses
  to run without ``--config`` so that no test can touch a real ngrok config.
* ``ngrok start --none --log stdout [--config P[,P]] [--authtoken T] [--region R]``: the
  agent. It logs logfmt lines on stdout like ngrok (``open config file``,
  ``starting web service ... addr=HOST:PORT``, ``tunnel session started``,
  ``client session established``, one ``join connections`` per proxied request), then
  serves the agent API on that address:
  ``GET /api``, ``GET|POST /api/endpoints``, ``GET|DELETE /api/endpoints/<name>``, and the
  v2 twins under ``/api/tunnels``. POST takes pyngrok's body
  (``{"name", "upstream": {"url"}, "url"?}`` for v3, ``{"name", "addr", "proto",
  "domain"?}`` for v2) and answers 201 with ``name``, ``uri``, ``url``/``public_url``,
  ``upstream`` and ``config``.

The web API address is the config file's ``web_addr`` (``agent.web_addr`` in v3), else
``FAKE_NGROK_WEB_ADDR``, else ``127.0.0.1:4040``; like ngrok, a busy default port moves
on to 4041, 4042 ... and finally to any free port, while a busy configured one is an error.

Each endpoint gets its own "public" listener, an HTTP server on 127.0.0.1 at a fresh
random port. Its public URL is ``http://127.0.0.1:<port>``, so every agent start gives a
new URL. With a static domain (v3 ``url``, v2 ``domain``) the reported URL is the requested
``https://<domain>`` itself (stable across restarts, but not resolvable); the listener
still binds a random port, reported as ``fake_listen_addr`` in the endpoint JSON. The
listener relays every request (method, path, query, headers including Host, body) to the
endpoint's upstream and relays the response; it appends the fake client's address to
``X-Forwarded-For`` (as ngrok and most proxies do: a client-sent value stays in front)
and sets ``X-Forwarded-Proto`` (the public URL's scheme) and ``X-Forwarded-Host``. An
unreachable upstream gives ngrok's 502 ``ERR_NGROK_8012``.

Environment switches:

* ``FAKE_NGROK_CLIENT_IP``: the client address added to ``X-Forwarded-For``
  (default ``203.0.113.50``).
* ``FAKE_NGROK_FAIL_START="ERR_NGROK_105 ..."``: after the web service line, log the
  message as ngrok logs a session failure (``lvl=eror ... err="..."``), print
  ``ERROR:  <message>`` on stderr and exit 1. ``{authtoken}`` in it is replaced by the
  token the agent was given (real ngrok echoes it in ERR_NGROK_105).
* ``FAKE_NGROK_REQUIRE_AUTHTOKEN=1``: without a token (``--authtoken``, ``NGROK_AUTHTOKEN``
  or the config's ``authtoken``) fail like ngrok with ERR_NGROK_4018.
* ``FAKE_NGROK_OFFLINE=1``: never get a session; log ``failed to reconnect session``
  every ``FAKE_NGROK_OFFLINE_EVERY`` seconds (default 0.3), like ngrok with no network.
* ``FAKE_NGROK_HANG_START=1``: print nothing at all and wait (a wedged agent).
* ``FAKE_NGROK_START_DELAY=<seconds>``: pause before the session lines.
* ``FAKE_NGROK_SESSION_LOCK=<path>``: hold an exclusive lock on that file while running;
  a second agent fails with ERR_NGROK_108 (one agent session per free account).
* ``FAKE_NGROK_PID_LOG=<path>``: append the agent's pid to that file at start.
* ``FAKE_NGROK_EXIT_WITH_PARENT`` (default ``1``): exit when the parent process goes away,
  so a crashed test run leaves nothing behind; ``0`` behaves like ngrok (it stays).

Signals: SIGTERM/SIGINT/SIGHUP stop it cleanly (exit 0). SIGUSR1 drops the "session": the
public listeners close and it logs ``session closed, starting reconnect loop`` (endpoints
stay listed, as ngrok keeps them while redialling); SIGUSR2 re-establishes it on the same
ports. It never starts child processes.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import secrets
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

VERSION = "3.99.0-fake"
DEFAULT_CLIENT_IP = "203.0.113.50"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "content-length",
}
ERR_4018 = (
    "authentication failed: Usage of ngrok requires a verified account and authtoken.\n\n"
    "Sign up for an account: https://dashboard.ngrok.com/signup\n"
    "Install your authtoken: https://dashboard.ngrok.com/get-started/your-authtoken\r\n\r\n"
    "ERR_NGROK_4018\r\n"
)
ERR_108 = (
    "authentication failed: Your account is limited to 1 simultaneous ngrok agent sessions.\n"
    "You can run multiple simultaneous tunnels from a single agent session by defining the "
    "tunnels in your agent configuration file and starting them with the command "
    "`ngrok start --all`.\r\n\r\nERR_NGROK_108\r\n"
)


# -- logging like ngrok (logfmt on stdout) -------------------------------------------------
def _quote(value: str) -> str:
    if value and not re.search(r'[\s="\\]', value) and all(ord(c) >= 32 for c in value):
        return value
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def log(lvl: str, msg: str, *pairs: tuple[str, Any]) -> None:
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
    fields = [f"t={stamp}", f"lvl={lvl}", f"msg={_quote(msg)}"]
    fields += [f"{key}={_quote(str(value))}" for key, value in pairs]
    try:
        sys.stdout.write(" ".join(fields) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        os._exit(0)  # nobody reads us any more


# -- command line and config -------------------------------------------------------------
def parse_flags(args: list[str]) -> dict[str, Any]:
    flags: dict[str, Any] = {"config": [], "authtoken": None, "region": None, "positional": []}
    with_value = {"--config", "--authtoken", "--region", "--log", "--log-level", "--log-format",
                  "--api-key"}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" in arg:
            key, value = arg.split("=", 1)
        elif arg in with_value and i + 1 < len(args):
            key, value = arg, args[i + 1]
            i += 1
        else:
            key, value = arg, None
        if key == "--config" and value is not None:
            flags["config"] += [p for p in value.split(",") if p]
        elif key == "--authtoken":
            flags["authtoken"] = value
        elif key == "--region":
            flags["region"] = value
        elif value is None and not key.startswith("-"):
            flags["positional"].append(key)
        i += 1
    return flags


def read_config(paths: list[str]) -> dict[str, str]:
    """The few keys the fake cares about, from ngrok's YAML (v2 top level or v3 ``agent``)."""
    found: dict[str, str] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            sys.stderr.write(f"ERROR:  open {path}: no such file or directory\n")
            sys.exit(1)
        for key in ("web_addr", "authtoken", "region"):
            match = re.search(rf"^\s*{key}\s*:\s*['\"]?([^'\"\s#]+)", text, re.M)
            if match:
                found[key] = match.group(1)
    return found


def config_command(args: list[str]) -> int:
    flags = parse_flags(args)
    if not flags["config"]:
        sys.stderr.write("fake ngrok: refusing to use the default config; pass --config\n")
        return 1
    path = Path(flags["config"][0])
    sub = flags["positional"][:1]
    if sub == ["check"]:
        read_config([str(path)])
        print(f"Valid configuration file at {path}")
        return 0
    if sub in (["add-authtoken"], ["add-api-key"]) and len(flags["positional"]) >= 2:
        key = "authtoken" if sub == ["add-authtoken"] else "api_key"
        value = flags["positional"][1]
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if re.search(rf"^\s*{key}\s*:", text, re.M):
            text = re.sub(rf"^(\s*){key}\s*:.*$", rf"\g<1>{key}: {value}", text, count=1, flags=re.M)
        elif re.search(r"^agent\s*:\s*$", text, re.M):
            text = re.sub(r"^(agent\s*:\s*)$", rf"\1\n  {key}: {value}", text, count=1, flags=re.M)
        else:
            text = text.rstrip("\n") + ("\n" if text else "") + f"agent:\n  {key}: {value}\n"
            if not re.search(r"^version\s*:", text, re.M):
                text += 'version: "3"\n'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        label = "Authtoken" if key == "authtoken" else "API key"
        print(f"{label} saved to configuration file: {path}")
        return 0
    sys.stderr.write(f"ERROR:  unknown config command {' '.join(sub)!r}\n")
    return 1


# -- the agent ---------------------------------------------------------------------------
class Endpoint:
    """One tunnel: its API record and its public listener."""

    def __init__(self, name: str, upstream: str, requested_url: str | None, style: str) -> None:
        self.name = name
        self.id = ("ep_" if style == "v3" else "tn_") + secrets.token_hex(12)
        self.upstream = upstream
        self.requested_url = requested_url
        self.style = style
        self.port = 0
        self.runner: Any = None
        self.requests = 0

    @property
    def public_url(self) -> str:
        return self.requested_url or f"http://127.0.0.1:{self.port}"

    def as_json(self) -> dict[str, Any]:
        scheme = self.public_url.split("://", 1)[0]
        base = "endpoints" if self.style == "v3" else "tunnels"
        data: dict[str, Any] = {
            "name": self.name,
            "uri": f"/api/{base}/{self.name}",
            "proto": scheme,
            "metrics": {"conns": {"count": self.requests}, "http": {"count": self.requests}},
            "fake_listen_addr": f"127.0.0.1:{self.port}",
        }
        if self.style == "v3":
            data.update(id=self.id, url=self.public_url,
                        upstream={"url": self.upstream, "protocol": "http1"})
        else:
            data.update(ID=self.id, public_url=self.public_url,
                        config={"addr": self.upstream, "inspect": True})
        return data


class Agent:
    def __init__(self, flags: dict[str, Any]) -> None:
        self.flags = flags
        self.config = read_config(flags["config"])
        self.token = flags["authtoken"] or os.environ.get("NGROK_AUTHTOKEN") or self.config.get("authtoken")
        self.endpoints: dict[str, Endpoint] = {}
        self.session_up = False
        self.stop_event = asyncio.Event()
        self.client_ip = os.environ.get("FAKE_NGROK_CLIENT_IP", DEFAULT_CLIENT_IP)
        self.http: Any = None
        self.web_runner: Any = None
        self.lock_handle: Any = None
        self.parent_watch: asyncio.Future[Any] | None = None
        self.session_id = secrets.token_hex(6)

    # lifecycle
    async def run(self) -> int:
        from aiohttp import ClientSession, ClientTimeout

        self.http = ClientSession(auto_decompress=False, timeout=ClientTimeout(total=30))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.stop_event.set)
        loop.add_signal_handler(signal.SIGUSR1, lambda: asyncio.ensure_future(self.drop_session()))
        loop.add_signal_handler(signal.SIGUSR2, lambda: asyncio.ensure_future(self.restore_session()))
        if os.environ.get("FAKE_NGROK_EXIT_WITH_PARENT", "1") != "0":
            self.parent_watch = asyncio.ensure_future(self.watch_parent(os.getppid()))
        try:
            return await self.start()
        finally:
            await self.shutdown()

    async def start(self) -> int:
        for path in self.flags["config"]:
            log("info", "open config file", ("path", path), ("err", "nil"))
        if os.environ.get("FAKE_NGROK_HANG_START") == "1":
            await self.stop_event.wait()
            return 0
        code = await self.start_web_service()
        if code:
            return code
        await asyncio.sleep(float(os.environ.get("FAKE_NGROK_START_DELAY") or 0))
        if os.environ.get("FAKE_NGROK_REQUIRE_AUTHTOKEN") == "1" and not self.token:
            return self.fail(ERR_4018)
        failure = os.environ.get("FAKE_NGROK_FAIL_START")
        if failure:
            return self.fail(failure.replace("{authtoken}", self.token or ""))
        if os.environ.get("FAKE_NGROK_OFFLINE") == "1":
            every = float(os.environ.get("FAKE_NGROK_OFFLINE_EVERY") or 0.3)
            while not self.stop_event.is_set():
                log("eror", "failed to reconnect session", ("obj", "csess"), ("id", self.session_id),
                    ("err", 'failed to dial ngrok server with address "connect.ngrok-agent.com:443": '
                            "dial tcp: lookup connect.ngrok-agent.com: no such host"))
                with _suppress_timeout():
                    await asyncio.wait_for(self.stop_event.wait(), every)
            return self.stopped()
        if not self.take_session_lock():
            return self.fail(ERR_108)
        self.session_up = True
        log("info", "tunnel session started", ("obj", "tunnels.session"))
        log("info", "client session established", ("obj", "csess"), ("id", self.session_id))
        await self.stop_event.wait()
        return self.stopped()

    def stopped(self) -> int:
        log("info", "received stop request", ("obj", "app"), ("stopReq", "{err:<nil> restart:false}"))
        return 0

    def fail(self, message: str) -> int:
        log("eror", "failed to reconnect session", ("obj", "csess"), ("id", self.session_id), ("err", message))
        log("eror", "session closing", ("obj", "tunnels.session"), ("err", message))
        log("info", "received stop request", ("obj", "app"), ("stopReq", "{err:<nil> restart:false}"))
        sys.stderr.write(f"ERROR:  {message}\n")
        sys.stderr.flush()
        return 1

    def take_session_lock(self) -> bool:
        path = os.environ.get("FAKE_NGROK_SESSION_LOCK")
        if not path:
            return True
        import fcntl

        handle = open(path, "a+")  # noqa: SIM115 (held open: the lock lasts as long as the handle)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.lock_handle = handle
        return True

    async def shutdown(self) -> None:
        for endpoint in list(self.endpoints.values()):
            await self.close_listener(endpoint)
        if self.web_runner is not None:
            await self.web_runner.cleanup()
        if self.http is not None:
            await self.http.close()
        if self.lock_handle is not None:
            self.lock_handle.close()

    async def watch_parent(self, parent: int) -> None:
        while not self.stop_event.is_set():
            await asyncio.sleep(0.5)
            if os.getppid() != parent:
                self.stop_event.set()

    # the agent API
    async def start_web_service(self) -> int:
        from aiohttp import web

        app = web.Application()
        for base, style in (("/api/endpoints", "v3"), ("/api/tunnels", "v2")):
            app.router.add_get(base, self.make_list(style))
            app.router.add_post(base, self.make_create(style))
            app.router.add_get(base + "/{name}", self.make_get(style))
            app.router.add_delete(base + "/{name}", self.make_delete())
        app.router.add_get("/api", self.api_root)
        app.router.add_get("/api/status", self.api_status)
        self.web_runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.web_runner.setup()

        configured = self.config.get("web_addr") or os.environ.get("FAKE_NGROK_WEB_ADDR")
        host, _, port_text = (configured or "127.0.0.1:4040").rpartition(":")
        host = host or "127.0.0.1"
        candidates = [int(port_text)] if configured else [4040 + i for i in range(10)] + [0]
        for port in candidates:
            site = web.TCPSite(self.web_runner, host, port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                if configured:
                    log("crit", "failed to start web service", ("obj", "web"), ("err", str(exc)))
                    sys.stderr.write(f"ERROR:  failed to start web service: {exc}\n")
                    return 1
                continue
            bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            log("info", "starting web service", ("obj", "web"), ("addr", f"{host}:{bound}"),
                ("allow_hosts", "[]"))
            return 0
        return 1

    async def api_root(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"uri": "/api", "endpoints_uri": "/api/endpoints",
                                  "tunnels_uri": "/api/tunnels", "version": VERSION})

    async def api_status(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"status": "online" if self.session_up else "reconnecting",
                                  "agent_version": VERSION, "uri": "/api/status"})

    def make_list(self, style: str) -> Any:
        async def handler(request: Any) -> Any:
            from aiohttp import web

            items = [e.as_json() for e in self.endpoints.values() if e.style == style]
            key = "endpoints" if style == "v3" else "tunnels"
            return web.json_response({key: items, "uri": request.path})

        return handler

    def make_get(self, style: str) -> Any:
        async def handler(request: Any) -> Any:
            endpoint = self.endpoints.get(request.match_info["name"])
            if endpoint is None:
                return api_error(404, 100, "Tunnel not found")
            from aiohttp import web

            return web.json_response(endpoint.as_json())

        return handler

    def make_delete(self) -> Any:
        async def handler(request: Any) -> Any:
            from aiohttp import web

            endpoint = self.endpoints.pop(request.match_info["name"], None)
            if endpoint is None:
                return api_error(404, 100, "Tunnel not found")
            await self.close_listener(endpoint)
            log("info", "end tunnel", ("obj", "tunnels"), ("name", endpoint.name))
            return web.Response(status=204)

        return handler

    def make_create(self, style: str) -> Any:
        async def handler(request: Any) -> Any:
            from aiohttp import web

            try:
                body = await request.json()
            except ValueError:
                return api_error(400, 102, "invalid tunnel configuration", "request body is not JSON")
            if not isinstance(body, dict):
                return api_error(400, 102, "invalid tunnel configuration", "expected a JSON object")
            name = str(body.get("name") or uuid.uuid4())
            if name in self.endpoints:
                return api_error(400, 102, "invalid tunnel configuration",
                                 f"a tunnel named {name!r} already exists")
            upstream = (body.get("upstream") or {}).get("url") if isinstance(body.get("upstream"), dict) \
                else body.get("upstream")
            upstream = normalise_upstream(str(upstream or body.get("addr") or "80"))
            requested = body.get("url") or (f"https://{body['domain']}" if body.get("domain") else None)
            if requested and "://" not in requested:
                requested = f"https://{requested}"
            endpoint = Endpoint(name, upstream, requested, style)
            await self.open_listener(endpoint)
            self.endpoints[name] = endpoint
            log("info", "started tunnel", ("obj", "tunnels"), ("name", name), ("addr", upstream),
                ("url", endpoint.public_url))
            return web.json_response(endpoint.as_json(), status=201)

        return handler

    # the public side
    async def open_listener(self, endpoint: Endpoint) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=64 * 1024 * 1024)

        async def relay(request: Any) -> Any:
            return await self.proxy(endpoint, request)

        app.router.add_route("*", "/{tail:.*}", relay)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", endpoint.port, reuse_address=True)
        await site.start()
        endpoint.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        endpoint.runner = runner

    async def close_listener(self, endpoint: Endpoint) -> None:
        runner, endpoint.runner = endpoint.runner, None
        if runner is not None:
            await runner.cleanup()

    async def proxy(self, endpoint: Endpoint, request: Any) -> Any:
        from aiohttp import ClientError, web
        from multidict import CIMultiDict
        from yarl import URL

        endpoint.requests += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        log("info", "join connections", ("obj", "join"), ("id", secrets.token_hex(6)),
            ("l", endpoint.upstream.split("://", 1)[-1]), ("r", f"{self.client_ip}:{peer[1] if peer else 0}"))
        body = await request.read()
        scheme = endpoint.public_url.split("://", 1)[0]
        headers = CIMultiDict()
        for key, value in request.headers.items():
            if key.lower() not in HOP_BY_HOP | {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}:
                headers.add(key, value)
        prior = [v.strip() for v in request.headers.getall("X-Forwarded-For", []) if v.strip()]
        headers["X-Forwarded-For"] = ", ".join([*prior, self.client_ip])
        headers["X-Forwarded-Proto"] = scheme
        headers["X-Forwarded-Host"] = request.headers.get("Host", "")
        target = URL(endpoint.upstream.rstrip("/") + request.raw_path, encoded=True)
        try:
            async with self.http.request(
                request.method, target, headers=headers, data=body or None, allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            ) as response:
                payload = await response.read()
                out = CIMultiDict((k, v) for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP)
                return web.Response(status=response.status, reason=response.reason, headers=out, body=payload)
        except (TimeoutError, ClientError, OSError) as exc:
            text = (f"ERR_NGROK_8012: Traffic successfully made it to the ngrok agent, but the agent "
                    f"failed to establish a connection to the upstream web service at "
                    f"{endpoint.upstream}. The error encountered was: {exc}")
            log("warn", "failed to dial upstream", ("obj", "join"), ("err", str(exc)))
            return web.Response(status=502, text=text, headers={"Ngrok-Error-Code": "ERR_NGROK_8012"})

    async def drop_session(self) -> None:
        if not self.session_up:
            return
        self.session_up = False
        for endpoint in self.endpoints.values():
            await self.close_listener(endpoint)
        log("eror", "session closed, starting reconnect loop", ("obj", "tunnels.session"),
            ("err", "heartbeat timeout"))

    async def restore_session(self) -> None:
        if self.session_up:
            return
        for endpoint in self.endpoints.values():
            await self.open_listener(endpoint)
        self.session_up = True
        log("info", "tunnel session started", ("obj", "tunnels.session"))
        log("info", "client session established", ("obj", "csess"), ("id", self.session_id))


class _suppress_timeout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, tb: Any) -> bool:
        return kind is not None and issubclass(kind, asyncio.TimeoutError)


def api_error(status: int, code: int, msg: str, err: str | None = None) -> Any:
    from aiohttp import web

    return web.json_response({"error_code": code, "status_code": status, "msg": msg,
                              "details": {"err": err} if err else {}}, status=status)


def normalise_upstream(value: str) -> str:
    if "://" in value:
        return value
    if value.isdigit():
        return f"http://localhost:{value}"
    return f"http://{value}"


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("help", "-h", "--help"):
        print("NAME:\n  ngrok - tunnel local ports to public URLs (fake for tests)")
        return 0
    command, rest = argv[0], argv[1:]
    if command in ("--version", "-v", "version"):
        print(f"ngrok version {VERSION}")
        return 0
    if command == "config":
        return config_command(rest)
    if command == "update":
        print("No update available, this is the latest version.")
        return 0
    if command == "start":
        flags = parse_flags(rest)
        pid_log = os.environ.get("FAKE_NGROK_PID_LOG")
        if pid_log:
            with open(pid_log, "a", encoding="ascii") as handle:
                handle.write(f"{os.getpid()}\n")
        return asyncio.run(Agent(flags).run())
    sys.stderr.write(f'ERROR:  unknown command "{command}" for "ngrok"\n')
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
