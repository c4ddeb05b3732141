"""Bad input, generated: any method, path, query (``exclude``, ``format``, ``verbose``),
``Accept`` and ``Authorization`` header, body, and raw garbage on the socket. The daemon answers
every request without a 5xx other than the designed 503, without a traceback, without the
token, and keeps running. On the command line and in ``SIDECAR_*`` variables, every bad value
exits 2 with one line naming the option."""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import subprocess
import sys
import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sidecar.cli import main as cli
from sidecar.settings import OPTIONS, ConfigError, resolve
from sidecar.worker import registry
from tests.reliability.conftest import RelDaemon
from tests.support.helpers import EXAMPLES, FIXTURES, ROOT, run_cli

pytestmark = pytest.mark.reliability

TOKEN = f"tok-{uuid.uuid4().hex}"
ROUTES = ("/livez", "/healthz", "/readyz", "/metrics", "/diagnose", "/refresh")
CHECKS = tuple(registry.names())
DESIGNED_503 = re.compile(r"^/(readyz|diagnose)")
HTTP = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def served():
    d = RelDaemon("--app-path", str(EXAMPLES / "broken_reserved"), "--models",
                  "server.models_sql", "--interval", "300", "--retry-min", "60",
                  "--retry-max", "60", "--refresh-min-interval", "0.1",
                  env={"SIDECAR_TOKEN": TOKEN})
    d.wait_first_cycle()
    yield d
    d.assert_healthy_process()
    d.stop_and_check()
    assert not any("Traceback" in line for line in d.log), "\n".join(d.log)


def exchange(port: int, raw: bytes, timeout: float = 5) -> tuple[int | None, bytes]:
    """Send raw bytes, read to EOF; (status or None if the server just closed, the reply)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with contextlib.suppress(OSError):  # the server may close before we finish sending
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(OSError):
            while chunk := s.recv(65536):
                chunks.append(chunk)
    reply = b"".join(chunks)
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
    return (int(m.group(1)) if m else None), reply


def check_reply(path: str, status: int | None, reply: bytes) -> None:
    assert status is not None or reply == b"", reply[:300]
    if status is None:
        return
    assert status < 500 or (status == 503 and DESIGNED_503.match(path)), (path, status, reply)
    assert b"Traceback" not in reply and b'File "' not in reply, reply[:2000]
    assert TOKEN.encode() not in reply


text_value = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
query_item = st.tuples(st.sampled_from(["exclude", "format", "verbose", "x", "format[]", ""]),
                       st.one_of(st.sampled_from(["", "json", "html", "health", "text", "yaml",
                                                  *CHECKS]), text_value))
paths = st.one_of(
    st.sampled_from(ROUTES),
    st.sampled_from(CHECKS).map(lambda c: f"/readyz/{c}"),
    text_value.map(lambda t: "/readyz/" + quote(t, safe="")),
    text_value.map(lambda t: "/" + quote(t, safe="/%")),
    st.sampled_from(["//", "/readyz/", "/readyz//x", "/../etc/passwd", "/%2e%2e/", "/%00",
                     "/diagnose/", "/metrics?" + "a" * 5000, "/" + "x" * 9000]),
)
accepts = st.one_of(st.none(), st.sampled_from(
    ["application/json", "text/html", "application/health+json", "*/*", "text/*;q=0.1",
     "application/json;q=0, text/html", ""]), text_value)
auths = st.one_of(st.none(), st.sampled_from([f"Bearer {TOKEN}", f"bearer {TOKEN}",
                                              "Bearer", "Bearer ", f"Basic {TOKEN}",
                                              f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"]),
                  text_value.map(lambda t: "Bearer " + t))
methods = st.one_of(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
                                     "PATCH", "TRACE", "CONNECT"]),
                    st.from_regex(r"\A[A-Z]{1,12}\Z"))


def _header_safe(value: str) -> str:
    return value.encode("latin-1", "replace").decode("latin-1").replace("\r", " ").replace(
        "\n", " ")


@HTTP
@given(method=methods, path=paths, query=st.lists(query_item, max_size=4), accept=accepts,
       auth=auths, body=st.one_of(st.just(b""), st.binary(max_size=2048)))
def test_any_request_gets_a_designed_answer(served, method, path, query, accept, auth, body):
    if query:
        sep = "&" if "?" in path else "?"
        path += sep + "&".join(f"{quote(k)}={quote(v)}" if v else quote(k) for k, v in query)
    headers = [f"Host: 127.0.0.1:{served.port}", "Connection: close"]
    if accept is not None:
        headers.append("Accept: " + _header_safe(accept))
    if auth is not None:
        headers.append("Authorization: " + _header_safe(auth))
    if body:
        headers.append(f"Content-Length: {len(body)}")
    raw = (f"{method} {path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode(
        "latin-1", "replace") + body
    status, reply = exchange(served.port, raw)
    check_reply(path, status, reply)
    if status is not None and path.startswith(("/diagnose", "/refresh")) and status < 400:
        assert auth is not None and TOKEN in auth, "answered without the token"
    if status is not None and path.startswith("/readyz") and (auth is None or TOKEN not in auth):
        assert b"SQLA101" not in reply, "a reason was not withheld"


@HTTP
@given(garbage=st.one_of(
    st.binary(max_size=4096),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass") + b"\r\n\r\n"),
    st.sampled_from([b"GET /readyz HTTP/9.9\r\n\r\n", b"GET\r\n\r\n", b"\r\n\r\n",
                     b"GET /readyz HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                     b"GET /readyz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                     b"POST /refresh HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
                     b"GET /readyz HTTP/1.1\r\n" + b"X: y\r\n" * 2000 + b"\r\n",
                     b"GET /readyz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"])))
def test_malformed_requests_are_refused_cleanly(served, garbage):
    status, reply = exchange(served.port, garbage)
    check_reply("/", status, reply)
    assert status is None or status < 500


@pytest.mark.parametrize("what,raw", [
    ("a 10 MB body", b"POST /refresh HTTP/1.1\r\nContent-Length: 10485760\r\n\r\n"
     + b"x" * 10485760),
    ("a 1 MB header", b"GET /readyz HTTP/1.1\r\nX-Big: " + b"x" * (1 << 20) + b"\r\n\r\n"),
    ("a 100 KB path", b"GET /readyz/" + b"x" * 102400 + b" HTTP/1.1\r\n\r\n"),
    ("10,000 query items", b"GET /readyz?" + b"&".join([b"exclude=x"] * 10000)
     + b" HTTP/1.1\r\n\r\n"),
])
def test_huge_requests(served, what, raw):
    status, reply = exchange(served.port, raw, timeout=20)
    check_reply("/", status, reply)
    assert served.get("/livez") == (200, "ok\n")


# --- the command line and the environment ---------------------------------------------------

GOOD = ["--app-path", str(FIXTURES / "good_plain"), "--models", "app.models"]
VALIDATED = [o for o in OPTIONS if o.parse is not str]


def _invalid(opt, value: str) -> bool:
    try:
        if opt.repeatable:
            for v in re.split(r"[,\s]+", value.strip()):
                if v:
                    opt.parse(v)
        else:
            opt.parse(value)
    except ValueError:
        return True
    return False


def _main(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


CLI = settings(max_examples=25, deadline=None, derandomize=True)
argv_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                    max_size=30)


@pytest.mark.parametrize("opt", VALIDATED, ids=[o.flag for o in VALIDATED])
@CLI
@given(value=argv_text)
def test_bad_flag_value_exits_2_naming_the_option(opt, value):
    assume(value.strip() and _invalid(opt, value))
    command = opt.commands[0] if "check" not in opt.commands else "check"
    code, err = _main([command, *GOOD, f"{opt.flag}={value}"])
    assert code == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert opt.flag in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("opt", VALIDATED, ids=[o.env[0] for o in VALIDATED])
@CLI
@given(value=argv_text)
def test_bad_variable_exits_2_naming_the_variable(opt, value):
    assume(value.strip() and _invalid(opt, value))
    command = opt.commands[0] if "check" not in opt.commands else "check"
    args = cli.build_parser().parse_args([command, *GOOD])
    with pytest.raises(ConfigError) as raised:
        resolve(args, {opt.env[0]: value})
    message = str(raised.value)
    assert "\n" not in message and message.startswith(opt.env[0] + ":"), message


@pytest.mark.parametrize("argv,env,names", [
    (["check", "--app-path", "/no/such/dir", "--models", "app.models"], {}, "--app-path"),
    (["check", *GOOD[:2], "--models", "not a module"], {}, "--models"),
    (["check", *GOOD[:2]], {"SIDECAR_MODELS": "a..b"}, "--models"),
    (["check", *GOOD, "--python", "/no/python"], {}, "--python"),
    (["serve", *GOOD, "--ready-check", "nosuch"], {}, "--ready-check"),
    (["serve", *GOOD, "--token-file", "/no/such/token"], {}, "--token-file"),
    (["serve", *GOOD], {"SIDECAR_TOKEN": "short"}, "SIDECAR_TOKEN"),
    (["serve", *GOOD], {"SIDECAR_PORT": "99999"}, "SIDECAR_PORT"),
    (["serve", *GOOD], {"SIDECAR_MEMORY_LIMIT": "lots"}, "SIDECAR_MEMORY_LIMIT"),
    (["check", *GOOD, "--memory-limit", "0"], {}, "--memory-limit"),
    (["check", *GOOD, "--timeout"], {}, "--timeout"),
    (["check", *GOOD, "--no-such-flag"], {}, "--no-such-flag"),
    (["probe", "--timeout", "soon"], {}, "--timeout"),
    # issue 11 item 8: values that parsed, then hung, ate memory or busy-looped
    (["check", *GOOD, "--timeout", "1e300"], {}, "--timeout"),
    (["check", *GOOD, "--memory-limit", "1"], {}, "--memory-limit"),
    (["check", *GOOD, "--memory-limit", "99999999999999"], {}, "--memory-limit"),
    (["serve", *GOOD], {"SIDECAR_INTERVAL": "1e-300"}, "SIDECAR_INTERVAL"),
    (["serve", *GOOD, "--retry-min", "1e-9"], {}, "--retry-min"),
    (["serve", *GOOD, "--token-file", "/dev/zero"], {}, "--token-file"),
    (["probe", "http://[::1/readyz"], {}, "http://[::1/readyz"),
])
def test_real_cli_bad_values_one_line_exit_2(argv, env, names):
    result = run_cli(*argv, env=env, timeout=30)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert names in result.stderr and "Traceback" not in result.stderr


def test_binary_token_file_is_a_usage_error(tmp_path):
    token = tmp_path / "token"
    token.write_bytes(b"\xff\xfe" + b"\x00" * 40)
    result = run_cli("serve", *GOOD, "--token-file", str(token), timeout=30)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "--token-file" in result.stderr, result.stderr
    assert "not UTF-8 text" in result.stderr and "Traceback" not in result.stderr


def test_probe_survives_a_token_file_it_cannot_use(tmp_path):
    """The probe only sends the token; a /dev/zero token file must not fill its memory."""
    result = run_cli("probe", "http://127.0.0.1:9/readyz", "--timeout", "1",
                     env={"SIDECAR_TOKEN_FILE": "/dev/zero"}, timeout=30)
    assert result.returncode == 1, (result.stdout, result.stderr)  # not reachable: not ready
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_check_to_a_full_stdout_exits_3_with_one_line():
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "sidecar", "check", *GOOD],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
                                cwd=ROOT)
    assert result.returncode == cli.EXIT_OUTPUT, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot write the report" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("path,method", [("/diagnose", "GET"), ("/refresh", "POST"),
                                         ("/readyz?verbose", "GET"),
                                         ("/readyz/models_import", "GET")])
@pytest.mark.parametrize("value", [b"Bearer \xe9\xe8", b"Bearer \xff\xfe\x80",
                                   "Bearer tok\u00e9n\u2603".encode()])
def test_non_ascii_authorization_is_refused_not_a_500(served, path, method, value):
    """Issue 11 item 7: a token set, any bytes in Authorization: 401 (or the route's own
    answer), never UnicodeEncodeError as a 500."""
    raw = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
           + b"Authorization: " + value + b"\r\n\r\n")
    # no half-close here: aiohttp may drop a request whose client shut its side down
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
        s.sendall(raw)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
    status = int(m.group(1)) if m else None
    assert status is not None and (status < 500 or status == 503), reply[:300]
    if path.startswith(("/diagnose", "/refresh")):
        assert status == 401, reply[:300]
    check_reply(path, status, reply)


def test_control_characters_from_the_app_are_escaped_in_text(tmp_path):
    """Issue 11 item 9: ANSI escapes and bidi controls in what the app prints or raises reach
    the terminal as visible escapes, never raw (the JSON keeps the app's text as it was)."""
    app = tmp_path / "ansi"
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("")
    (app / "app" / "models.py").write_text(
        'import sys\nprint("\\x1b[2J\\x1b[31mcleared\\x07", file=sys.stderr)\n'
        'raise RuntimeError("bad \\x1b]0;owned\\x07 title \\u202egnp.exe")\n')
    result = run_cli("check", "--app-path", str(app), "--models", "app.models", timeout=60)
    assert result.returncode == 1, result.stderr
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in result.stdout, repr(result.stdout[-1500:])
    assert "\\x1b]0;owned\\x07" in result.stdout and "\\u202e" in result.stdout
