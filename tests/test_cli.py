"""The `parley` command: `user add` (password from stdin), `serve` defaults (127.0.0.1:8080 style address,
SQLite file in the working directory, path printed), flags and their PARLEY_<NAME> environment variables,
TLS (https and wss), and one log line per connection open and close."""

import dataclasses
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.request
from http.client import HTTPException

import pytest
import websockets

from parley.config import Settings
from tests.support import PASSWORD, Client, free_port, http, login, register, unique


def parley(*args: str, stdin: str = "", env: dict[str, str] | None = None, cwd=None):
    return subprocess.run([sys.executable, "-m", "parley", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})}, cwd=cwd)


def wait_healthy(url: str, proc: subprocess.Popen, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1, context=context) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not become healthy")


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err or ""


def test_the_console_script_and_module_entry_point_exist():
    assert shutil.which("parley"), "the `parley` console script is not installed"
    result = parley("--version")
    assert result.returncode == 0 and "0." in result.stdout


def test_serve_help_lists_the_contract_flags():
    result = parley("serve", "--help")
    assert result.returncode == 0
    for flag in ("--host", "--port", "--db", "--tls-cert", "--tls-key", "--allowed-origin", "--log-level",
                 "--heartbeat", "--auth-timeout", "--max-frame", "--max-text", "--rate", "--burst", "--token-ttl"):
        assert flag in result.stdout, flag


def help_blocks(text: str) -> dict[str, str]:
    """`--flag` -> its --help entry (type, help and [default: ...]), wrapped lines joined by single spaces."""
    blocks: dict[str, str] = {}
    flag = None
    for line in text.splitlines():
        m = re.match(r"  (--[a-z][a-z0-9-]*)", line)
        if m:
            flag = m.group(1)
            blocks[flag] = line[m.end():]
        elif flag is not None and line.startswith("   "):
            blocks[flag] += " " + line
        else:
            flag = None
    return {k: " ".join(v.split()) for k, v in blocks.items()}


def cli_help(*command: str, program: str | None = None) -> dict[str, str]:
    """`parley <command> --help` (or `python -c <program> <command> --help`), no PARLEY_* variables, by flag."""
    start = ["-c", program] if program else ["-m", "parley"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    result = subprocess.run([sys.executable, *start, *command, "--help"], capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return help_blocks(result.stdout)


def settings_defaults() -> dict[str, object]:
    """Settings fields -> their default (fields with a default_factory: what it makes)."""
    out: dict[str, object] = {}
    for f in dataclasses.fields(Settings):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def test_every_setting_is_a_serve_option_whose_default_is_the_settings_default():
    from parley.cli import serve, user_add

    options = {p.name: p for p in serve.params}
    assert set(options) == {f.name for f in dataclasses.fields(Settings)}
    for name, default in settings_defaults().items():
        got = options[name].default
        assert (list(got) if isinstance(got, tuple | list) else got) == default, name
    db = next(p for p in user_add.params if p.name == "db")
    assert db.default == Settings().db


def test_serve_help_shows_each_settings_default():
    """--help shows exactly the Settings defaults: a default hard-coded in cli.py that differs shows up here."""
    from parley.cli import serve

    blocks = cli_help("serve")
    flags = {p.name: p.opts[0] for p in serve.params}
    shown = 0
    for name, default in settings_defaults().items():
        block = blocks[flags[name]]
        if default is None or default == []:
            assert "[default:" not in block, (flags[name], block)
            continue
        assert f"[default: {default}]" in block, (flags[name], default, block)
        shown += 1
    assert shown >= 14  # host, port, db, broker, log-level, heartbeat, ... workers
    assert f"[default: {Settings().db}]" in cli_help("user", "add")["--db"]


CHANGED_DEFAULTS = textwrap.dedent("""
    import dataclasses, sys
    from parley.config import Settings
    # give every scalar setting a default nobody would type, before parley.cli reads them
    for i, f in enumerate(dataclasses.fields(Settings)):
        if isinstance(f.default, bool) or f.default is None or f.default is dataclasses.MISSING:
            continue
        if isinstance(f.default, int):
            f.default = 10007 + i
        elif isinstance(f.default, float):
            f.default = 0.25 + i
        elif isinstance(f.default, str):
            f.default = f"changed-{i}"
    from parley.cli import main
    main(sys.argv[1:], prog_name="parley")
""")


def test_cli_defaults_follow_a_changed_settings_default():
    """Changing a default in config.py changes `serve` and `user add` (and their --help): no second copy."""
    serve_help = cli_help("serve", program=CHANGED_DEFAULTS)
    expected = {}
    for i, f in enumerate(dataclasses.fields(Settings)):
        if isinstance(f.default, bool) or f.default is None or f.default is dataclasses.MISSING:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, int):
            expected[flag] = str(10007 + i)
        elif isinstance(f.default, float):
            expected[flag] = str(0.25 + i)
        elif isinstance(f.default, str):
            expected[flag] = f"changed-{i}"
    assert len(expected) >= 14
    for flag, value in expected.items():
        assert f"[default: {value}]" in serve_help[flag], (flag, value, serve_help[flag])
    db = expected["--db"]
    assert f"[default: {db}]" in cli_help("user", "add", program=CHANGED_DEFAULTS)["--db"]


def test_user_add_with_the_password_on_stdin_creates_a_user_who_can_log_in(shared_server, shared_db_url):
    server, db_url = shared_server, shared_db_url
    name = unique("cli")
    result = parley("user", "add", name, "--db", db_url, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert f"created user {name}" in result.stdout
    status, body = login(server, name)
    assert status == 200, body
    assert body["user"] == name
    assert login(server, name, "not-the-password")[0] == 401

    # a taken name and a too short password are refused with the reason
    result = parley("user", "add", name.upper(), "--db", db_url, stdin="another-password\n")
    assert result.returncode != 0 and "taken" in result.stderr
    result = parley("user", "add", unique("cli"), "--db", db_url, stdin="short\n")
    assert result.returncode != 0 and "at least 8" in result.stderr

    # the database may come from PARLEY_DB
    other = unique("cli")
    result = parley("user", "add", other, stdin=PASSWORD + "\n", env={"PARLEY_DB": db_url})
    assert result.returncode == 0, result.stderr
    assert login(server, other)[0] == 200


def test_serve_with_no_flags_stores_in_parley_db_in_the_working_directory(tmp_path):
    """Only the port comes from the environment (PARLEY_PORT), so 8080 stays free for whoever uses it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    proc = subprocess.Popen([sys.executable, "-m", "parley", "serve"], cwd=tmp_path,
                            env={**env, "PARLEY_PORT": str(port)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        status, body = http("POST", f"http://127.0.0.1:{port}/api/register",
                            {"username": unique("u"), "password": PASSWORD})
        assert status == 201, body
    finally:
        err = stop(proc)
    assert (tmp_path / "parley.db").exists()
    assert f"SQLite file {(tmp_path / 'parley.db').resolve()}" in err
    assert f"http://127.0.0.1:{port}" in err


async def test_settings_come_from_flags_and_parley_environment_variables(make_server):
    srv = make_server("--log-level", "warning", env={"PARLEY_MAX_TEXT": "12", "PARLEY_HEARTBEAT": "7.5",
                                                     "PARLEY_ALLOWED_ORIGIN": "https://a.example"})
    _, token = register(srv)
    client = await Client.connect(srv, additional_headers={"Origin": "https://a.example"})
    await client.send({"type": "auth", "token": token})
    ready = await client.expect("ready")
    assert ready["max_text"] == 12 and ready["heartbeat"] == 7.5
    room = unique("r")
    await client.join(room)
    await client.send({"type": "send", "room": room, "text": "x" * 13, "client_id": unique("c")})
    assert (await client.expect("error"))["code"] == "too_long"
    await client.close()
    time.sleep(0.2)
    assert "ws open" not in srv.logs() and "ws close" not in srv.logs()  # --log-level warning


async def test_one_log_line_per_connection_open_and_close(shared_server):
    def lines(word):
        return [line for line in shared_server.logs().splitlines() if word in line]

    name, token = register(shared_server)
    opened = len(lines("ws open"))
    client = await Client.connect(shared_server, token)
    await client.close()
    deadline = time.monotonic() + 10
    while not lines(f"user={name}") and time.monotonic() < deadline:
        time.sleep(0.05)
    opens = lines("ws open")[opened:]
    closes = lines(f"user={name}")
    assert len(opens) == 1 and len(closes) == 1
    assert "INFO" in opens[0] and "127.0.0.1" in opens[0]
    assert f"user={name}" in closes[0] and "code=1000" in closes[0]


def test_tls_cert_without_key_is_a_usage_error(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not really a certificate")
    result = parley("serve", "--port", str(free_port()), "--tls-cert", str(cert))
    assert result.returncode == 2
    assert "--tls-key" in result.stderr


def test_a_room_limit_below_one_is_a_usage_error():
    result = parley("serve", "--port", str(free_port()), "--max-rooms", "0")
    assert result.returncode == 2
    assert "--max-rooms must be at least 1" in result.stderr


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


async def test_tls_serves_https_and_wss(certificate, db_url):
    cert, key = certificate
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "parley", "serve", "--port", str(port), "--db", db_url,
                             "--tls-cert", str(cert), "--tls-key", str(key)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    context = ssl.create_default_context(cafile=str(cert))
    try:
        wait_healthy(f"https://127.0.0.1:{port}", proc, context)
        request = urllib.request.Request(f"https://127.0.0.1:{port}/api/register", method="POST",
                                         data=f'{{"username":"{unique("tls")}","password":"{PASSWORD}"}}'.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=context, timeout=10) as r:
            assert r.status == 201
            token = json.loads(r.read())["token"]
        ws = await websockets.connect(f"wss://127.0.0.1:{port}/ws", ssl=context)
        client = Client(ws)
        await client.send({"type": "auth", "token": token})
        await client.expect("ready")
        room = unique("r")
        head = (await client.join(room))["last_seq"]  # seq 1: the room's creation
        assert (await client.say(room, "over tls"))["seq"] == head + 1
        await client.close()
        with pytest.raises((OSError, HTTPException)):  # plain http is not served on a TLS port
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3)
    finally:
        stop(proc)
