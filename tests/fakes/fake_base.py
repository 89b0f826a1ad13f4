#!/usr/bin/env python3
"""Tracker-neutral machinery of closeloop's tracker fakes (fake_github.py; a fake Jira next).

Python 3.11 standard library only. Listens on 127.0.0.1 only (port 0 picks a free port).
Everything here is the same for every tracker; a fake imports it and writes only its
tracker's parts (fake_github.py is the worked example).

What the base does:
- HTTP/1.1 with keep-alive, one thread per connection. Request bodies (Content-Length or
  chunked) up to MAX_BODY bytes, 413 beyond, 400 when unreadable, 500 when the fake itself
  raises (Connection: close on all three).
- Recording: with a record file every API exchange is appended as one JSON line: method,
  url, reqHeaders (Authorization as "<scheme> ***"), reqBody, status, resHeaders, resBody.
  Never recorded: control calls, requests carrying `X-Fake-No-Record: 1`, answers of a fault
  with "record": false, dropped connections.
- Request log (GET /_fake/requests?since=K, every API request, recorded or not) and counts
  per status (GET /_fake/stats).
- Faults, one per request (the first that matches), for `count` requests: method ("*" any)
  and path regex (searched in the path, then in the path with its query). status/body/
  headers/content_type replace the answer, delay sleeps first (at most MAX_DELAY s), drop
  closes the connection without an answer, preset starts from the fake's PRESETS, record
  false keeps the exchange out of the recording. `after` runs a control action of the fake
  once the request has been answered (normally, or by the fault): API requests arriving
  meanwhile wait for it, so whatever the client does next sees its effect.
- A logical clock (state.tick()): the wall clock, but at least 1 s after the last change; it
  never goes back (POST /_fake/clock {advance} moves it forward only).
- The control API under /_fake/ (BaseControl): JSON in and out, no auth, never recorded.

A fake provides (subclasses; the base calls these):
- BaseServer: NAME (log prefix, thread name, CLI banner), SERVER_HEADER, request_class,
  state_class, api_class, control_class; framing_error() to word the 400/413/500 the way its
  tracker does; add_arguments()/configure_from_args() for its own command-line options.
- BaseState: its data, set up in reset() (call super().reset() under self.lock).
- BaseApi: endpoints as @route(METHOD, REGEX) methods, and answer(req) -> (status, headers,
  body bytes): auth, routing (self.match), its errors (ApiError -> self.error_answer).
  Optional: fault_headers(req) (extra headers of injected answers), placeholders(req)
  (substituted in injected bodies), finish(req, status, headers) (headers every answer has).
  Set req.login (or make it a property) once authenticated: the request log shows it.
- BaseControl: PRESETS, its routes as @control_route(METHOD, REGEX) methods (f(req, body,
  *groups) -> obj or (status, obj); ControlError for failures), reset(), stats_extra(),
  check_after(spec) and run_after(spec) for the fault option `after`.
- BaseFake (the in-process wrapper): server_class, RECORD_ENV, default_headers(), helpers
  for its own control routes. Command line: main(ServerClass, description).
"""

import argparse
import collections
import http.client
import http.server
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from datetime import datetime, timezone

MAX_BODY = 1 << 20  # request bodies (API and control)
MAX_LOG = 50_000  # request log entries kept
MAX_DELAY = 60.0  # seconds, for injected delays and for waiting on an `after` action
JSON_TYPE = "application/json; charset=utf-8"
FAULT_FIELDS = ("status", "body", "delay", "drop", "content_type", "record", "after")


def iso(ts):
    """Epoch seconds -> 'YYYY-MM-DDTHH:MM:SSZ' (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(obj):
    """Compact JSON, UTF-8 bytes: how the fakes write bodies."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def maybe_json(raw):
    """A body for the log and the recording: parsed JSON, else text, else None."""
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", "replace")


class ApiError(Exception):
    """An HTTP answer other than the handler's normal one (body: JSON-able, bytes or None)."""

    def __init__(self, status, body=None, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class ControlError(Exception):
    """A failed control call: answered as {"error": message} with `status`."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------------------------
# State


class BaseState:
    """What every fake keeps: faults, the request log, counts, the clock. Guarded by self.lock
    (an RLock); subclasses add their data in reset()."""

    def __init__(self, server):
        self.server = server
        self.lock = threading.RLock()
        self.clock = int(time.time()) - 1  # kept across resets: it never goes back
        self.reset()

    def reset(self):
        with self.lock:
            self.faults = []
            self.next_fault = 1
            self.log = collections.deque(maxlen=MAX_LOG)
            self.seq = 0
            self.stats = collections.Counter()

    def tick(self, at=None):
        """Next logical time: wall clock, but at least one second after the last change.
        With `at`, that time is returned as is, but the clock itself does not go back."""
        with self.lock:
            t = max(int(time.time()), self.clock + 1)
            if at is not None:
                t = at
            self.clock = max(self.clock, t)
            return t

    def advance(self, seconds):
        """Moves the clock forward by whole `seconds` (>= 0); -> the new clock."""
        seconds = int(seconds)
        if seconds < 0:
            raise ControlError(400, "advance: the clock only moves forward")
        with self.lock:
            self.clock += seconds
            return self.clock


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class Request:
    """One parsed HTTP request (API or control)."""

    request_id = None  # a fake that has request ids sets its own
    login = None  # who the request authenticated as (the fake's auth sets it)

    def __init__(self, method, raw_path, headers, body_bytes):
        self.method = method
        self.raw_path = raw_path
        split = urllib.parse.urlsplit(raw_path)
        self.path = split.path
        self.query_string = split.query
        self.query_pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        self.query = {}
        for k, v in self.query_pairs:
            self.query.setdefault(k, v)
        self.headers = headers  # lower-case name -> value
        self.body_bytes = body_bytes


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # headers and body leave in separate writes: without TCP_NODELAY, Nagle holds the
        # body until the client's delayed ACK (40 ms) on every keep-alive request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self):
        return self.server.SERVER_HEADER or super().version_string()

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.verbose:
            sys.stderr.write(f"{self.server.NAME}: " + (fmt % args) + "\n")

    def _read_body(self):
        """-> the body, or None when it is larger than MAX_BODY; ValueError when unreadable."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ValueError("truncated chunk")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    return None
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        n = int(length)
        if n < 0:
            raise ValueError("negative length")
        if n > MAX_BODY:
            # read and drop what the client is sending (bounded), so it can read the 413
            # instead of hitting a reset mid-upload
            left = min(n, 8 * MAX_BODY)
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
            return None
        return self.rfile.read(n)

    def _fail(self, status, message):
        """An answer of the framing itself, in the fake's wording; the connection closes."""
        self.close_connection = True
        headers, body = self.server.framing_error(status, message)
        self._send(status, headers, body)

    def _handle(self):
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self._fail(400, "Bad request")
            return
        if body is None:
            self._fail(413, f"Request body is larger than {MAX_BODY} bytes")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = self.server.request_class(self.command, self.path, headers, body)
        try:
            if req.path.startswith("/_fake/") or req.path == "/_fake":
                status, hdrs, out = self.server.control.handle(req)
                self._send(status, hdrs, out)
                return
            self.server.api.serve(self, req)
        except Exception as e:  # a bug in the fake: say so loudly instead of hanging up
            traceback.print_exc()
            self._fail(500, f"{self.server.NAME} internal error: {type(e).__name__}: {e}")

    def _send(self, status, headers, body):
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, str(v))
            if status != 304 and status != 204 or body:
                self.send_header("Content-Length", str(len(body or b"")))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle


class BaseServer(http.server.ThreadingHTTPServer):
    """The fake's HTTP server on 127.0.0.1:port; holds state, api, control and recording."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    NAME = "fake"  # log prefix, thread name, "NAME listening on URL"
    SERVER_HEADER = None  # the Server: header (None: Python's)
    handler_class = Handler
    request_class = Request
    state_class = BaseState
    api_class = None  # a BaseApi subclass
    control_class = None  # a BaseControl subclass

    def __init__(self, port, record=None, verbose=False):
        super().__init__(("127.0.0.1", port), self.handler_class)
        self.verbose = verbose
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.state = self.state_class(self)
        self.api = self.api_class(self)
        self.control = self.control_class(self)
        self.record_lock = threading.Lock()
        self.record_path = record

    def framing_error(self, status, message):
        """-> (headers, body) of the 400/413/500 the framing answers by itself."""
        return {"content-type": JSON_TYPE}, dumps({"message": message})

    @classmethod
    def add_arguments(cls, parser):
        """The fake's own command-line options (main() adds --port, --record, -v)."""

    def configure_from_args(self, args):
        """Applies the fake's own command-line options to a new server."""

    def record(self, req, status, res_headers, res_body):
        """Appends one exchange to the record file (if any and not opted out)."""
        path = self.record_path
        if not path or req.headers.get("x-fake-no-record"):
            return
        rh = {k: v for k, v in req.headers.items()
              if k not in ("authorization", "x-fake-no-record")}
        if "authorization" in req.headers:
            scheme = req.headers["authorization"].split(" ", 1)[0]
            rh["authorization"] = f"{scheme} ***"
        line = json.dumps({
            "method": req.method, "url": self.base_url + req.raw_path, "reqHeaders": rh,
            "reqBody": maybe_json(req.body_bytes), "status": status,
            "resHeaders": res_headers, "resBody": maybe_json(res_body),
        }, ensure_ascii=False)
        with self.record_lock:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line + "\n")


# --------------------------------------------------------------------------------------------
# The API framing


def route(method, pattern):
    """Marks a BaseApi method as the endpoint for METHOD and the whole path matching pattern;
    it is called as f(req, *groups) with the groups percent-decoded."""
    def deco(fn):
        fn.route = (method, re.compile(pattern + r"\Z"))
        return fn
    return deco


class BaseApi:
    """Serves one API request: faults first, then the fake's answer(); logs, records, sends."""

    def __init__(self, server):
        self.server = server
        self.state = server.state
        self.routes = []
        for name in dir(self):
            fn = getattr(self, name)
            if hasattr(fn, "route"):
                self.routes.append((fn.route[0], fn.route[1], fn))
        self._after = threading.Condition()  # counts `after` actions under way
        self._after_running = 0

    # -- for the fake -------------------------------------------------------------------------
    def answer(self, req):
        """The fake's answer to an API request: -> (status, headers, body bytes)."""
        raise NotImplementedError

    def fault_headers(self, req):
        """Headers an injected answer carries besides content-type and the fault's own."""
        return {}

    def placeholders(self, req):
        """{text: value} replaced in an injected body (e.g. a request id)."""
        return {}

    def finish(self, req, status, headers):
        """Adds what every answer carries (injected or not) to `headers`, in place."""

    def match(self, method, path):
        """-> (endpoint, [decoded groups]) of the first @route for method and path, or None."""
        for m, rx, fn in self.routes:
            mo = rx.match(path)
            if mo and m == method:
                return fn, [urllib.parse.unquote(a) for a in mo.groups()]
        return None

    @staticmethod
    def error_answer(e):
        """ApiError -> (status, headers, body): JSON unless the body is bytes already."""
        headers = {"content-type": JSON_TYPE}
        headers.update(e.headers)
        if isinstance(e.body, bytes):
            body = e.body
        else:
            body = dumps(e.body) if e.body is not None else b""
        return e.status, headers, body

    # -- framing ------------------------------------------------------------------------------
    def serve(self, h, req):
        with self._after:  # an `after` action under way goes first (see _run_after)
            self._after.wait_for(lambda: self._after_running == 0, timeout=MAX_DELAY)
        fault = self.take_fault(req)
        after = fault.get("after") if fault else None
        if after:
            with self._after:
                self._after_running += 1
        try:
            self._serve(h, req, fault)
            if after:
                self._run_after(fault)
        finally:
            if after:
                with self._after:
                    self._after_running -= 1
                    self._after.notify_all()

    def _serve(self, h, req, fault):
        if fault and fault.get("delay"):
            time.sleep(min(float(fault["delay"]), MAX_DELAY))
        if fault and fault.get("drop"):
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.log(req, None)
            return
        if fault and fault.get("status"):
            status, headers, body = self.fault_answer(req, fault)
        else:
            status, headers, body = self.answer(req)
        self.finish(req, status, headers)
        if status in (204, 304):
            headers.pop("content-type", None)
            body = b""
        self.log(req, status)
        if not (fault and fault.get("record") is False):  # a deliberately invalid answer
            self.server.record(req, status, headers, body)
        h._send(status, headers, body)

    def fault_answer(self, req, fault):
        """The injected answer of a fault with a status: -> (status, headers, body)."""
        status = int(fault["status"])
        out = fault.get("body")
        if out is None:
            body = b""
        else:
            body = out.encode() if isinstance(out, str) else dumps(out)
        headers = {"content-type": fault.get("content_type", JSON_TYPE)}
        headers.update(self.fault_headers(req))
        headers.update({k.lower(): str(v) for k, v in (fault.get("headers") or {}).items()})
        for k, v in self.placeholders(req).items():
            body = body.replace(k.encode(), str(v).encode())
        return status, headers, body

    def _run_after(self, fault):
        """Runs the fault's `after` action (the answer has gone out). Its outcome is kept in
        the fault's "after_runs" (GET /_fake/faults); a failure is also told on stderr."""
        control = self.server.control
        try:
            status, out = control.call(control.run_after, fault["after"])
        except Exception as e:  # the answer is out: a 500 now would corrupt the connection
            traceback.print_exc()
            status, out = 500, {"error": f"{type(e).__name__}: {e}"}
        if status >= 400:
            sys.stderr.write(f"{self.server.NAME}: fault {fault['id']}: after failed: "
                             f"{status} {out}\n")
        with self.state.lock:
            fault.setdefault("after_runs", []).append({"status": status, "result": out})

    def take_fault(self, req):
        """The first fault that matches the request and is not used up (counted), or None."""
        st = self.state
        with st.lock:
            for f in st.faults:
                if f["remaining"] <= 0:
                    continue
                if f["method"] not in ("*", req.method):
                    continue
                if not (f["rx"].search(req.path) or f["rx"].search(req.raw_path)):
                    continue
                f["remaining"] -= 1
                f["hits"] += 1
                return f
        return None

    def log(self, req, status):
        """Adds the request to the request log (status None: the connection was dropped)."""
        st = self.state
        with st.lock:
            st.seq += 1
            st.stats[str(status)] += 1
            auth = req.headers.get("authorization", "")
            st.log.append({
                "seq": st.seq, "time": time.time(), "method": req.method, "path": req.path,
                "query": dict(req.query), "query_string": req.query_string,
                "headers": {k: v for k, v in req.headers.items() if k != "authorization"},
                "auth": {"scheme": auth.split(" ", 1)[0], "login": req.login} if auth else None,
                "body": maybe_json(req.body_bytes), "status": status,
                "request_id": req.request_id,
            })


# --------------------------------------------------------------------------------------------
# Control API


def control_route(method, pattern):
    """Marks a BaseControl method as the answer to METHOD ("*": any) and the whole path
    (trailing '/' dropped) matching pattern; called as f(req, body, *groups)."""
    def deco(fn):
        fn.control_route = (method, re.compile(pattern + r"\Z"))
        return fn
    return deco


class BaseControl:
    """/_fake/... : no auth, JSON in and out, never recorded. The base routes:

    POST /_fake/reset                  back to the start state
    POST /_fake/faults  {method, path (regex), count, status, body, headers, content_type,
                         delay, drop, preset, record (false: keep the exchange out of the
                         recording), after (a control action run once answered)}
    GET  /_fake/faults   DELETE /_fake/faults
    GET  /_fake/requests?since=K       GET /_fake/stats
    POST /_fake/clock   {advance: seconds >= 0}    GET /_fake/clock
    POST /_fake/record  {path}         switch (or with null stop) the exchange recording
    """

    PRESETS = {}  # name -> fault fields (status, body, headers, ...)

    def __init__(self, server):
        self.server = server
        self.state = server.state
        self.routes = []
        for name in dir(self):
            fn = getattr(self, name)
            if hasattr(fn, "control_route"):
                self.routes.append((fn.control_route[0], fn.control_route[1], fn))

    # -- for the fake -------------------------------------------------------------------------
    def reset(self):
        """POST /_fake/reset."""
        self.state.reset()

    def stats_extra(self):
        """More keys for GET /_fake/stats (called under state.lock)."""
        return {}

    def preset(self, name):
        """A fresh fault (fields) for preset `name`, or None when there is no such preset."""
        p = self.PRESETS.get(name)
        if p is None:
            return None
        return dict(p, headers=dict(p.get("headers", {})))

    def check_after(self, spec):
        """Validates a fault's `after` when the fault is added (ControlError if wrong)."""
        if not isinstance(spec, dict) or not spec:
            raise ControlError(400, "after: expected an object naming a control action")

    def run_after(self, spec):
        """Runs a fault's `after` action; -> like a control route (obj or (status, obj))."""
        raise ControlError(400, f"{self.server.NAME} has no after actions")

    # -- framing ------------------------------------------------------------------------------
    def handle(self, req):
        status, out = self.call(self._route, req)
        return status, {"content-type": "application/json"}, dumps(out)

    @staticmethod
    def call(fn, *args):
        """Runs a control action: -> (status, JSON-able answer); failures as {"error": ...}."""
        try:
            out = fn(*args)
            status = 200
            if isinstance(out, tuple):
                status, out = out
        except ControlError as e:
            status, out = e.status, {"error": e.message}
        except (KeyError, TypeError, ValueError, re.error) as e:
            status, out = 400, {"error": f"{type(e).__name__}: {e}"}
        return status, out

    def body(self, req):
        if not req.body_bytes:
            return {}
        try:
            data = json.loads(req.body_bytes)
        except ValueError:
            raise ControlError(400, "body is not JSON")
        if not isinstance(data, dict):
            raise ControlError(400, "body must be a JSON object")
        return data

    def _route(self, req):
        m, p = req.method, req.path.rstrip("/")
        b = self.body(req) if m in ("POST", "PATCH", "PUT") else {}
        for rm, rx, fn in self.routes:
            mo = rx.match(p)
            if mo and rm in ("*", m):
                return fn(req, b, *mo.groups())
        raise ControlError(404, f"no control route {m} {p}")

    # -- the base routes ----------------------------------------------------------------------
    @control_route("POST", r"/_fake/reset")
    def reset_route(self, req, b):
        self.reset()
        return {"ok": True}

    @control_route("*", r"/_fake/faults")
    def faults_route(self, req, b):
        st = self.state
        with st.lock:
            if req.method == "DELETE":
                st.faults = []
                return {"faults": []}
            if req.method == "POST":
                st.faults.append(self.new_fault(b))
            return {"faults": [{k: v for k, v in f.items() if k != "rx"} for f in st.faults]}

    def new_fault(self, b):
        """A fault from its POST body (caller holds the lock)."""
        st = self.state
        f = {}
        if b.get("preset"):
            f = self.preset(b["preset"])
            if not f:
                raise ControlError(400, f"unknown preset {b['preset']}")
        f["headers"] = dict(f.get("headers", {}))
        for k in FAULT_FIELDS:
            if k in b:
                f[k] = b[k]
        f["headers"].update(b.get("headers") or {})
        if "after" in f:
            self.check_after(f["after"])
        if not (f.get("status") or f.get("delay") or f.get("drop") or f.get("after")):
            raise ControlError(400, "a fault needs a status, a delay, drop or after")
        f.update(id=st.next_fault, method=b.get("method", "*").upper(),
                 path=b.get("path", ".*"), rx=re.compile(b.get("path", ".*")),
                 remaining=int(b.get("count", 1)), hits=0)
        st.next_fault += 1
        return f

    @control_route("GET", r"/_fake/requests")
    def requests_route(self, req, b):
        st = self.state
        since = int(req.query.get("since", "0"))
        with st.lock:
            out = [r for r in st.log if r["seq"] > since]
            return {"requests": out, "last": st.seq}

    @control_route("GET", r"/_fake/stats")
    def stats_route(self, req, b):
        st = self.state
        with st.lock:
            out = {"requests": sum(st.stats.values()), "by_status": dict(st.stats)}
            out.update(self.stats_extra())
            return out

    @control_route("*", r"/_fake/clock")
    def clock_route(self, req, b):
        st = self.state
        with st.lock:
            if req.method == "POST":
                st.advance(b.get("advance", 0))
            return {"clock": iso(st.clock), "epoch": st.clock}

    @control_route("POST", r"/_fake/record")
    def record_route(self, req, b):
        self.server.record_path = b.get("path")
        return {"path": self.server.record_path}


# --------------------------------------------------------------------------------------------
# Python test helper


class BaseFake:
    """Runs a fake in this process (a background thread) and wraps its control API.

    fake = SomeFake(record=None, port=0, verbose=False).start()   (or `with SomeFake() as f`)
    fake.url                          http://127.0.0.1:PORT (the API base URL)
    fake.request(method, path, body=None, headers=None)
                                      -> (status, headers{lower: value}, json-or-bytes-or-None)
    fake.control(method, path, body=None) -> JSON (RuntimeError on a status >= 400)
    fake.reset(), fake.requests(since), fake.last_seq(), fake.stats(), fake.fault(...),
    fake.faults(), fake.clear_faults(), fake.advance_clock(s), fake.record_to(path),
    fake.stop()
    """

    server_class = None  # the fake's BaseServer subclass
    RECORD_ENV = None  # an environment variable naming the default record file

    def __init__(self, record=None, port=0, verbose=False):
        if record is None and self.RECORD_ENV:
            record = os.environ.get(self.RECORD_ENV) or None
        self.server = self.server_class(port, record=record, verbose=verbose)
        self.url = self.server.base_url
        self.port = self.server.server_address[1]
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=self.server.NAME, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread:
            self.server.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- raw HTTP ---------------------------------------------------------------------------
    def default_headers(self):
        """The headers every request() sends unless told otherwise."""
        return {}

    def request(self, method, path, body=None, headers=None, defaults=None):
        """One API call; -> (status, headers with lower-case names, parsed JSON or bytes).
        Sends `defaults` (None: default_headers()), Content-Type for a body, then `headers`
        (a None value leaves a header out). A dict or list body is sent as JSON."""
        h = dict(self.default_headers() if defaults is None else defaults)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        if path.startswith("http://"):
            path = path[len(self.url):]
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in h.items():
                if v is not None:
                    conn.putheader(k, v)
            if data is not None:
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data)
            resp = conn.getresponse()
            raw = resp.read()
            rh = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        out = raw
        if raw and rh.get("content-type", "").startswith("application/json"):
            out = json.loads(raw)
        elif not raw:
            out = None
        return resp.status, rh, out

    def control(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, "/_fake/" + path.lstrip("/"), body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            out = json.loads(resp.read() or b"null")
        finally:
            conn.close()
        if resp.status >= 400:
            raise RuntimeError(f"{self.server.NAME} control {method} {path}: "
                               f"{resp.status} {out}")
        return out

    # -- control helpers ---------------------------------------------------------------------
    def reset(self):
        return self.control("POST", "reset")

    def requests(self, since=0):
        return self.control("GET", f"requests?since={since}")["requests"]

    def last_seq(self):
        return self.control("GET", "requests?since=999999999999")["last"]

    def stats(self):
        return self.control("GET", "stats")

    def fault(self, method="*", path=".*", status=None, body=None, headers=None, count=1,
              delay=None, drop=False, preset=None, record=True, after=None,
              content_type=None):
        """Adds a fault; -> the fault as the fake keeps it. record=False keeps the exchange
        out of the recording: for answers that break the tracker's description on purpose (a
        misbehaving proxy). after={...}: a control action run once the request is answered."""
        spec = {"method": method, "path": path, "count": count}
        if not record:
            spec["record"] = False
        for k, v in (("status", status), ("body", body), ("headers", headers),
                     ("delay", delay), ("preset", preset), ("after", after),
                     ("content_type", content_type)):
            if v is not None:
                spec[k] = v
        if drop:
            spec["drop"] = True
        return self.control("POST", "faults", spec)["faults"][-1]

    def faults(self):
        return self.control("GET", "faults")["faults"]

    def clear_faults(self):
        return self.control("DELETE", "faults")

    def advance_clock(self, seconds):
        return self.control("POST", "clock", {"advance": seconds})

    def record_to(self, path):
        """Records the exchanges from now on to `path` (None: stop recording)."""
        return self.control("POST", "record", {"path": path})


# --------------------------------------------------------------------------------------------
# CLI


def main(server_class, description, argv=None):
    """A fake's command line: --port, --record, -v and the server class's own options;
    prints "NAME listening on URL" once it accepts requests, serves until SIGTERM/SIGINT."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    ap.add_argument("--record", help="append every API exchange to this JSONL file")
    server_class.add_arguments(ap)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    server = server_class(args.port, record=args.record, verbose=args.verbose)
    server.configure_from_args(args)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"{server.NAME} listening on {server.base_url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0
