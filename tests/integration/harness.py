"""Integration-test harness: a fresh database and a running closeloopd.

tests/run.sh starts a throwaway PostgreSQL and exports:
  CLOSELOOP_TEST_DSN      libpq URL of that cluster (host = its socket directory)
  CLOSELOOP_BIN_DIR       directory holding closeloopd and closeloop (sanitizer build)
  CLOSELOOP_SRC_DIR       the repository root (working directory of the daemon)
  CLOSELOOP_TEST_LOG_DIR  where daemon logs go; tests/run.sh keeps them on failure

Typical use:

    from harness import ServiceTestCase

    class TeamsTest(ServiceTestCase):
        def test_create(self):
            st, hdrs, body, raw = self.svc.request("POST", "/api/v1/teams", {"name": "sre"})
            self.assertEqual(st, 201, raw)
            self.assertEqual(self.svc.sql("SELECT name FROM teams"), [["sre"]])

Each ServiceTestCase class gets its own database (cl_<unique>) and its own
closeloopd on a free loopback port; tearDownClass stops it with SIGTERM and fails
when it did not exit 0 or when its log holds a sanitizer report.
"""

import atexit
import http.client
import fcntl
import itertools
import pty
import sys
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import time
import unittest
import urllib.parse
import uuid
from collections import namedtuple

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
TOKEN_SCOPES = (("admin", "adm"), ("write", "wr"), ("read", "rd"))
_NULL = "\x02NULL\x02"  # how psql shows NULL here: no real value looks like it
_db_counter = itertools.count(1)
_running = set()  # Services with a live closeloopd, for the exit-time safety net

Response = namedtuple("Response", "status headers json body")


def _require_env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: run the integration tests through `make test` "
            "(tests/run.sh), which starts PostgreSQL and sets it")
    return value


def _clean_env():
    """os.environ without libpq's PG* variables, which would override the DSNs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCLIENTENCODING"] = "UTF8"
    return env


def _psql_bin():
    override = os.environ.get("CLOSELOOP_PSQL")
    if override:
        return override
    best = None
    try:
        versions = os.listdir("/usr/lib/postgresql")
    except OSError:
        versions = []
    for v in versions:
        cand = f"/usr/lib/postgresql/{v}/bin/psql"
        if v.isdigit() and os.access(cand, os.X_OK) and (best is None or int(v) > best[0]):
            best = (int(v), cand)
    if best:
        return best[1]
    found = shutil.which("psql")
    if not found:
        raise RuntimeError("psql not found: run `make deps`")
    return found


def dsn_with_database(dsn, dbname):
    """The same server and user as dsn, database dbname."""
    if dsn.startswith(("postgresql://", "postgres://")):
        p = urllib.parse.urlsplit(dsn)
        query = f"?{p.query}" if p.query else ""
        return f"{p.scheme}://{p.netloc}/{urllib.parse.quote(dbname)}{query}"
    return f"{dsn} dbname={dbname}"  # key=value form: the last dbname wins


def _param(value):
    if value is None:
        raise TypeError("sql(): psql variables cannot carry NULL; write NULLIF(:'pN', '') "
                        "or put NULL in the query")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def psql(dsn, query, *params, timeout=60):
    """Runs query (one or more statements) through psql against dsn.

    params are bound as psql variables p1, p2, ...: write :'p1' in the query for a
    quoted literal (:"p1" for an identifier). Returns the rows of every statement
    that returns rows, as lists of str, None for NULL. Raises RuntimeError on any
    SQL error (ON_ERROR_STOP)."""
    cmd = [_psql_bin(), "-X", "-q", "-A", "-t", "-F", "\x1f", "-0",
           "-P", "null=" + _NULL, "-P", "footer=off", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    for i, value in enumerate(params, 1):
        cmd += ["-v", f"p{i}={_param(value)}"]
    cmd += ["-f", "-"]  # from stdin: -c would not interpolate :'pN'
    proc = subprocess.run(cmd, input=query, capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=timeout, env=_clean_env())
    if proc.returncode != 0:
        raise RuntimeError(f"psql failed ({proc.returncode}): {proc.stderr.strip()}\nquery: {query}")
    # -0: every record, the last one of each result set included, ends with NUL,
    # which no PostgreSQL text value can contain.
    records = proc.stdout.split("\0")[:-1]
    return [[None if f == _NULL else f for f in r.split("\x1f")] for r in records]


class Database:
    """A fresh database on the test cluster: CREATE DATABASE cl_<pid>_<n>_<random>."""

    def __init__(self, admin_dsn=None):
        self.admin_dsn = admin_dsn or _require_env("CLOSELOOP_TEST_DSN")
        self.name = f"cl_{os.getpid()}_{next(_db_counter)}_{uuid.uuid4().hex[:8]}"
        psql(self.admin_dsn, f'CREATE DATABASE "{self.name}"')
        self.dsn = dsn_with_database(self.admin_dsn, self.name)

    def sql(self, query, *params):
        return psql(self.dsn, query, *params)

    def drop(self):
        psql(self.admin_dsn, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sanitizer_excerpt(text, context=40):
    """The first sanitizer report in text (a few lines before, `context` after), or ''."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if any(m in line for m in SANITIZER_MARKERS):
            return "\n".join(lines[max(0, i - 3):i + context])
    return ""


def _tail(text, n=40):
    return "\n".join(text.splitlines()[-n:])


class Service:
    """closeloopd serve on a free 127.0.0.1 port against a fresh, migrated database,
    with three tokens: self.tokens["admin"|"write"|"read"].

    start() sets it all up; request(), cli(), sql() and dsn start it on first use
    when nobody did. env: extra variables for every closeloopd run (migrate, token,
    serve), e.g. {"CLOSELOOP_REQUEST_TIMEOUT": "0.5"}. admin_dsn: the cluster to make the
    database on (default $CLOSELOOP_TEST_DSN). flags: closeloopd flags before `serve`
    (e.g. ["--log-level", "debug"])."""

    def __init__(self, name="closeloopd", env=None, admin_dsn=None, flags=None):
        self.bin_dir = _require_env("CLOSELOOP_BIN_DIR")
        self.daemon = os.path.join(self.bin_dir, "closeloopd")
        self.cli_path = os.path.join(self.bin_dir, "closeloop")
        self.src_dir = os.environ.get("CLOSELOOP_SRC_DIR") or os.getcwd()
        log_dir = os.environ.get("CLOSELOOP_TEST_LOG_DIR")
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
        else:
            log_dir = tempfile.mkdtemp(prefix="closeloop-logs.")
        self.log_dir = log_dir
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.name = f"{safe}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.log_path = os.path.join(log_dir, self.name + ".log")
        self.db = None
        self.port = None
        self.url = None
        self.tokens = {}
        self.extra_env = dict(env or {})
        self.admin_dsn = admin_dsn
        self.flags = list(flags or [])
        self.proc = None
        self.stopped = False
        self.returncode = None
        self.home = None
        self._log = None

    # -- life cycle ---------------------------------------------------------

    def start(self):
        if self.proc is not None or self.stopped:
            return self
        try:
            self.db = Database(self.admin_dsn)
            self.home = tempfile.mkdtemp(prefix="clhome.")
            self._admin("migrate")
            for scope, token_name in TOKEN_SCOPES:
                out = self._admin("token", "create", "--name", token_name, "--scope", scope,
                                  secret_stdout=True)
                token = out.strip()
                if not token or any(c.isspace() for c in token):
                    raise RuntimeError(f"closeloopd token create --scope {scope} printed {out!r}, "
                                       "expected the token alone")
                self.tokens[scope] = token
            self._serve()
        except BaseException:
            self._abort()
            raise
        return self

    def _daemon_env(self):
        env = _clean_env()
        for k in [k for k in env if k.startswith("CLOSELOOP_")]:
            if k not in ("CLOSELOOP_BIN_DIR", "CLOSELOOP_SRC_DIR", "CLOSELOOP_TEST_DSN",
                         "CLOSELOOP_TEST_LOG_DIR"):
                del env[k]  # no CLOSELOOP_CONFIG, LISTEN, ... from the caller
        env["CLOSELOOP_DATABASE_URL"] = self.db.dsn
        env["CLOSELOOP_LOG_LEVEL"] = "info"
        env.update(self.extra_env)
        return env

    def _ensure_started(self):
        if self.proc is None and not self.stopped:
            self.start()

    @property
    def dsn(self):
        """libpq URL of this service's own database."""
        self._ensure_started()
        return self.db.dsn

    def _write_log(self, data):
        with open(self.log_path, "a", encoding="utf-8", errors="replace") as f:
            f.write(data)

    def _admin(self, *args, secret_stdout=False):
        """Runs `closeloopd ARGS` against the database; returns its stdout."""
        proc = subprocess.run([self.daemon, *args], env=self._daemon_env(), cwd=self.src_dir,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=60)
        shown = "<token>\n" if secret_stdout and proc.returncode == 0 else proc.stdout
        self._write_log(f"$ closeloopd {' '.join(args)}  -> exit {proc.returncode}\n{shown}{proc.stderr}")
        report = sanitizer_excerpt(proc.stderr)
        if report:
            raise AssertionError(f"closeloopd {' '.join(args)}: sanitizer report:\n{report}")
        if proc.returncode != 0:
            raise RuntimeError(f"closeloopd {' '.join(args)} exited {proc.returncode}:\n"
                               f"{_tail(proc.stderr)}")
        return proc.stdout

    def _serve(self, attempts=3):
        for attempt in range(attempts):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            env = self._daemon_env()
            env["CLOSELOOP_LISTEN"] = f"127.0.0.1:{self.port}"
            self._write_log(f"$ closeloopd serve  (CLOSELOOP_LISTEN=127.0.0.1:{self.port})\n")
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([self.daemon, *self.flags, "serve"], env=env,
                                         cwd=self.src_dir,
                                         stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT)
            _running.add(self)
            if self._wait_healthy(10.0):
                return
            # Another process may have taken the port between free_port() and bind().
            self._log.close()
            self._log = None
            if "in use" not in self.log_text().lower() or attempt == attempts - 1:
                break
        raise RuntimeError(f"closeloopd serve did not answer GET /healthz with 200 within 10 s "
                           f"(exit {self.proc.returncode}); log {self.log_path}:\n"
                           f"{_tail(self.log_text())}")

    def _wait_healthy(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.request("GET", "/healthz", token=None, timeout=1).status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        return False

    def _abort(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stopped = True
        _running.discard(self)
        self._close()

    def _close(self):
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, wait up to `timeout` s (then SIGKILL); returns the exit code
        (negative: killed by that signal)."""
        self.stopped = True
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._write_log(f"\nharness: no exit {timeout:g} s after SIGTERM: SIGKILL\n")
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        _running.discard(self)
        self._close()
        return self.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- logs ---------------------------------------------------------------

    def log_text(self):
        """Everything written so far by closeloopd (admin verbs and serve)."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    log = log_text

    def assert_clean_log(self):
        """Raises AssertionError when the log holds an AddressSanitizer,
        LeakSanitizer or UBSan (`runtime error:`) report."""
        report = sanitizer_excerpt(self.log_text())
        if report:
            raise AssertionError(f"sanitizer report in {self.log_path}:\n{report}")

    # -- talking to it ------------------------------------------------------

    def _token(self, token):
        return self.tokens.get(token, token)

    def request(self, method, path, body=None, token="admin", headers=None, raw_body=None,
                timeout=10):
        """One HTTP request. token: "admin", "write", "read", None (no Authorization)
        or any other string, sent as is. body is sent as JSON with Content-Type
        application/json; raw_body (str or bytes) is sent as is, with only the
        headers given. A header whose value is None is left out.
        Returns Response(status, headers (lower-case names), parsed JSON or None,
        raw bytes); 4xx and 5xx are returned, not raised."""
        if self.port is None:
            self._ensure_started()
        hdrs = {}
        if token is not None:
            hdrs["Authorization"] = "Bearer " + self._token(token)
        data = None
        if raw_body is not None:
            data = raw_body.encode() if isinstance(raw_body, str) else raw_body
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        for k, v in (headers or {}).items():
            for existing in [h for h in hdrs if h.lower() == k.lower()]:
                del hdrs[existing]
            if v is not None:
                hdrs[k] = v
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=data, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # the service may answer before the body is sent (413 on Content-Length)
                # and close: read that answer, as curl does
                pass
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
            rh = {}
            for k, v in resp.getheaders():
                k = k.lower()
                rh[k] = f"{rh[k]}, {v}" if k in rh else v
        finally:
            conn.close()
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        return Response(status, rh, parsed, raw)

    def _cli_env(self, token, env):
        """The CLI's environment: this service (CLOSELOOP_URL, CLOSELOOP_TOKEN), an empty HOME
        (no user config), NO_COLOR unset; env adds variables (None removes one)."""
        self._ensure_started()
        e = _clean_env()
        for k in ("NO_COLOR", "XDG_CONFIG_HOME", "CLOSELOOP_CONFIG", "CLOSELOOP_TOKEN"):
            e.pop(k, None)
        e["HOME"] = self.home
        e["CLOSELOOP_URL"] = self.url
        if token is not None:
            e["CLOSELOOP_TOKEN"] = self._token(token)
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def cli(self, *args, token="admin", env=None, input=None, timeout=20):
        """Runs closeloop ARGS against this service (CLOSELOOP_URL, CLOSELOOP_TOKEN;
        HOME is an empty directory so no user config is read; NO_COLOR unset).
        env adds variables (None removes one). Returns the CompletedProcess (text);
        raises AssertionError when its stderr holds a sanitizer report."""
        e = self._cli_env(token, env)
        kwargs = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        proc = subprocess.run([self.cli_path, *map(str, args)], env=e, cwd=self.home,
                              capture_output=True, text=True, errors="replace", timeout=timeout,
                              **kwargs)
        report = sanitizer_excerpt(proc.stderr)
        if report:
            raise AssertionError(f"closeloop {' '.join(map(str, args))}: sanitizer report:\n{report}")
        return proc

    def cli_tty(self, *args, token="admin", env=None, timeout=20, columns=80):
        """Runs closeloop ARGS as cli() does but with stdout (and stderr) on a pseudo-terminal
        of `columns` columns, as a person at a terminal sees it. -> (exit code, output)."""
        e = self._cli_env(token, dict({"TERM": "xterm"}, **(env or {})))
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        try:
            proc = subprocess.Popen([self.cli_path, *map(str, args)], env=e, cwd=self.home,
                                    stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        finally:
            os.close(slave)
        chunks = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the terminal's other end closed
                    break
                if not data:
                    break
                chunks.append(data)
        finally:
            os.close(master)
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        out = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
        report = sanitizer_excerpt(out)
        if report:
            raise AssertionError(f"closeloop {' '.join(map(str, args))}: sanitizer report:\n{report}")
        return code, out

    def sql(self, query, *params):
        """Rows from this service's database; see psql()."""
        self._ensure_started()
        return self.db.sql(query, *params)


@atexit.register
def _stop_forgotten_services():
    """A test that started a Service and never stopped it (say, a setUpClass that
    failed after start()) must not leave closeloopd running after the tests."""
    for svc in list(_running):
        if svc.running():
            print(f"harness: {svc.name} was never stopped; stopping it (log {svc.log_path})",
                  file=sys.stderr)
        svc.stop(timeout=5)


def _on_sigterm(signum, frame):
    # unittest records most exceptions as test errors and goes on; KeyboardInterrupt
    # stops the run, so the atexit safety net above still stops every closeloopd.
    raise KeyboardInterrupt(f"signal {signum}")


if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # imported outside the main thread
        pass


class ServiceTestCase(unittest.TestCase):
    """One Service per test class, as self.svc (cls.svc)."""

    svc = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.svc = Service(name=cls.__name__).start()

    @classmethod
    def tearDownClass(cls):
        svc = cls.svc
        cls.svc = None
        try:
            if svc is not None:
                code = svc.stop()
                problems = []
                if code != 0:
                    problems.append(f"closeloopd exited {code} after SIGTERM (expected 0)")
                report = sanitizer_excerpt(svc.log_text())
                if report:
                    problems.append(f"sanitizer report:\n{report}")
                if problems:
                    raise AssertionError("; ".join(problems) +
                                         f"\nlog {svc.log_path}, last lines:\n{_tail(svc.log_text())}")
        finally:
            super().tearDownClass()

    def tearDown(self):
        # A daemon that died mid-class would make every later test fail obscurely.
        if self.svc is not None and not self.svc.stopped and not self.svc.running():
            code = self.svc.proc.returncode if self.svc.proc else None
            self.fail(f"closeloopd is no longer running (exit {code}); log {self.svc.log_path}:\n"
                      f"{_tail(self.svc.log_text())}")
        super().tearDown()


def until(cond, timeout=10.0, interval=0.05, what=None):
    """Polls cond() until it returns something truthy (returned); fails after timeout s.
    what: text or a callable giving text for the failure message."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g} s waiting for "
                                 f"{detail or getattr(cond, '__name__', 'a condition')}")
        time.sleep(interval)
