"""The mail tests' SMTP server (tests/fakes/smtp_server.py, aiosmtpd under /usr/bin/python3)
and closeloopd instances that share one database.

    with SmtpServer() as smtp:
        svc = Service(env=smtp.env(CLOSELOOP_SMTP_RETRY_BASE="0.2"))
        ...
        smtp.fault(code=550, stage="rcpt")
        msgs = smtp.wait_messages(1)
"""

import email
import email.policy
import json
import os
import subprocess
import tempfile
import time
import urllib.request

from harness import Service

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "fakes", "smtp_server.py")
PYTHON = "/usr/bin/python3"  # Debian's, with python3-aiosmtpd


class SmtpServer:
    def __init__(self, auth=None):
        self.auth = auth  # "USER:PASSWORD": the server requires SMTP AUTH
        self.proc = None
        self.smtp_port = None
        self.control_port = None

    def start(self):
        args = ["--auth", self.auth] if self.auth else []
        self.proc = subprocess.Popen([PYTHON, SERVER, "--max-life", "900", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # printed once both ports listen
        if not line:
            err = self.proc.stderr.read()
            self.proc.wait(5)
            raise RuntimeError("smtp_server.py did not start: " + err[-2000:])
        ports = json.loads(line)
        self.smtp_port, self.control_port = ports["smtp"], ports["control"]
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr) if self.proc else ():
            f.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.smtp_port

    def env(self, **extra):
        """closeloopd's environment to send through this server."""
        env = {"CLOSELOOP_SMTP_URL": self.url,
               "CLOSELOOP_SMTP_FROM": "closeloop <closeloop@mail.example>",
               "CLOSELOOP_SMTP_TLS": "none",
               "CLOSELOOP_SMTP_TIMEOUT": "5",
               "CLOSELOOP_SMTP_RETRY_BASE": "0.2",
               "CLOSELOOP_SMTP_RETRY_MAX": "1"}
        env.update(extra)
        return env

    # -- control ------------------------------------------------------------

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.control_port, path),
                                     data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def fault(self, **spec):
        """POST /fault: code=451|550, stage="rcpt"|"data", count=K; or hang=S, then=..."""
        return self._call("POST", "/fault", spec)

    def reset(self):
        return self._call("POST", "/reset", {})

    def stats(self):
        return self._call("GET", "/stats")

    def messages(self):
        """Accepted messages: dicts with mail_from, rcpt_tos, data, and msg (parsed)."""
        out = self._call("GET", "/messages")
        for m in out:
            m["msg"] = email.message_from_bytes(m["data"].encode("latin-1"),
                                                policy=email.policy.default)
        return out

    def wait_messages(self, n, timeout=15.0, settle=0.0):
        """The accepted messages once there are at least n (then waits `settle` s more
        so that duplicates would show)."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            if len(msgs) >= n:
                break
            if time.monotonic() >= deadline:
                raise AssertionError("the SMTP server got %d message(s), expected %d within %g s"
                                     % (len(msgs), n, timeout))
            time.sleep(0.05)
        if settle > 0:
            time.sleep(settle)
            msgs = self.messages()
        return msgs


class Peer(Service):
    """Another closeloopd serving `of`'s database (no migration, same tokens)."""

    def __init__(self, of, name="peer", env=None, flags=None):
        super().__init__(name=name, env=env, flags=flags)
        self.of = of

    def start(self):
        if self.proc is not None or self.stopped:
            return self
        self.of._ensure_started()
        self.db = self.of.db
        self.tokens = self.of.tokens
        self.home = tempfile.mkdtemp(prefix="clhome.")
        try:
            self._serve()
        except BaseException:
            self._abort()
            raise
        return self

    def kill9(self):
        """SIGKILL: no shutdown at all."""
        self.proc.kill()
        self.proc.wait()
        self.stop()
