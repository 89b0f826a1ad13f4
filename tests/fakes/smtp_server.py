#!/usr/bin/python3
"""A real SMTP server for closeloop's mail tests (aiosmtpd; run it with /usr/bin/python3,
which has Debian's python3-aiosmtpd).

Listens on 127.0.0.1 only: SMTP on a free port, and a small JSON control API over HTTP on
another. Prints one JSON line on stdout once both listen: {"smtp": PORT, "control": PORT}.

Every message the server accepts (250 after DATA) is kept with its envelope and raw bytes,
and appended as a JSON line to --record FILE when given.

Control API (JSON in and out, no auth):
  GET  /messages              [{"mail_from", "rcpt_tos", "data" (latin-1 text of the raw
                              bytes), "received_at"}], in arrival order
  GET  /stats                 {"accepted", "refused", "hung", "sessions"}
  POST /fault {"code": 451 | 550 | ..., "stage": "rcpt" | "data", "count": K,
               "message": "..."}   the next K transactions get that reply at that stage
  POST /fault {"hang": SECONDS, "count": K, "then": "accept" | "drop"}
                              the next K messages are held SECONDS after their data
                              arrived before the reply (at most MAX_HANG); "accept" keeps
                              the message as soon as it arrived (as an MTA that queued it
                              before its 250 reached a client that died) and replies 250
                              after the hold; "drop" replies 451 and keeps nothing
  POST /reset                 forget messages and faults

With --auth USER:PASSWORD the server requires SMTP AUTH (PLAIN or LOGIN, without TLS)
before MAIL and answers 535 to other credentials.

The server exits by itself after --max-life seconds (default 1800), so a forgotten one never
lingers.
"""

import argparse
import asyncio
import http.server
import json
import socket
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

MAX_HANG = 120.0
MAX_BODY = 1 << 16


class State:
    def __init__(self, record):
        self.lock = threading.Lock()
        self.record = record
        self.reset()

    def reset(self):
        with self.lock:
            self.messages = []
            self.faults = []  # dicts with a remaining "count"
            self.refused = 0
            self.hung = 0
            self.sessions = 0

    def take_fault(self, stage):
        """The first fault for this stage ("rcpt", "data" or "hang"), counted down."""
        with self.lock:
            for f in self.faults:
                kind = "hang" if "hang" in f else f.get("stage", "data")
                if kind == stage and f["count"] > 0:
                    f["count"] -= 1
                    return dict(f)
        return None

    def keep(self, envelope):
        entry = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                 "data": envelope.original_content.decode("latin-1"),
                 "received_at": time.time()}
        with self.lock:
            self.messages.append(entry)
            if self.record:
                with open(self.record, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")


def reply(f, default):
    code = int(f.get("code", default))
    return "%d %s" % (code, f.get("message") or ("4.3.0 try again later" if code < 500
                                                 else "5.1.1 refused"))


class Handler:
    def __init__(self, state):
        self.state = state

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.state.lock:
            self.state.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        f = self.state.take_fault("rcpt")
        if f is not None:
            with self.state.lock:
                self.state.refused += 1
            return reply(f, 550)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        hang = self.state.take_fault("hang")
        if hang is not None:
            with self.state.lock:
                self.state.hung += 1
            accept = hang.get("then", "drop") == "accept"
            if accept:  # the server has it, whatever becomes of the client meanwhile
                self.state.keep(envelope)
            await asyncio.sleep(min(float(hang["hang"]), MAX_HANG))
            return "250 2.0.0 OK queued" if accept else "451 4.3.0 held too long, dropped"
        f = self.state.take_fault("data")
        if f is not None:
            with self.state.lock:
                self.state.refused += 1
            return reply(f, 451)
        self.state.keep(envelope)
        return "250 2.0.0 OK queued"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (getattr(auth_data, "login", None) == user.encode()
              and getattr(auth_data, "password", None) == password.encode())
        return AuthResult(success=ok, handled=False)
    return check


def control_handler(state):
    class Control(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def answer(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            with state.lock:
                if self.path == "/messages":
                    return self.answer(200, state.messages)
                if self.path == "/stats":
                    return self.answer(200, {"accepted": len(state.messages),
                                             "refused": state.refused, "hung": state.hung,
                                             "sessions": state.sessions})
            self.answer(404, {"error": "no such path"})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                return self.answer(413, {"error": "body too large"})
            try:
                body = json.loads(self.rfile.read(n) or b"{}")
            except ValueError:
                return self.answer(400, {"error": "not JSON"})
            if self.path == "/reset":
                state.reset()
                return self.answer(200, {"ok": True})
            if self.path == "/fault" and isinstance(body, dict):
                body["count"] = int(body.get("count", 1))
                with state.lock:
                    state.faults.append(body)
                return self.answer(200, {"ok": True})
            self.answer(404, {"error": "no such path"})

    return Control


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", help="append accepted messages to this JSON-lines file")
    ap.add_argument("--max-life", type=float, default=1800.0)
    ap.add_argument("--auth", help="USER:PASSWORD that SMTP AUTH requires")
    args = ap.parse_args()
    state = State(args.record)
    auth = {}
    if args.auth:
        user, _, password = args.auth.partition(":")
        auth = {"authenticator": authenticator(user, password), "auth_required": True,
                "auth_require_tls": False}
    controller = None
    for _ in range(5):  # another process may take the port between the probe and bind
        try:
            controller = Controller(Handler(state), hostname="127.0.0.1", port=free_port(),
                                    data_size_limit=32 << 20, **auth)
            controller.start()
            break
        except (OSError, RuntimeError):
            controller = None
    if controller is None:
        sys.exit("smtp_server: could not listen")
    control = http.server.ThreadingHTTPServer(("127.0.0.1", 0), control_handler(state))
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(json.dumps({"smtp": controller.port, "control": control.server_address[1]}),
          flush=True)
    try:
        time.sleep(args.max_life)
    except KeyboardInterrupt:
        pass
    finally:
        control.shutdown()
        controller.stop()


if __name__ == "__main__":
    main()
