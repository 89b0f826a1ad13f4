"""Tests of the tracker-neutral fake machinery (tests/fakes/fake_base.py) on its own.

Run alone:  python3 -m unittest tests/fakes/test_fake_base.py -v
tests/integration/test_fakes.py runs these too, so `make test` covers them.
The fake under test is a throwaway one defined here (EchoServer: one route, GET /things/NAME,
answering the notes its `after` actions have left), so nothing GitHub-specific is involved.
"""

import contextlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_base  # noqa: E402
from fake_base import ControlError, JSON_TYPE, dumps, route  # noqa: E402

TOKENS = {"tok-alice": "alice"}  # bearer token -> login


class EchoState(fake_base.BaseState):
    def reset(self):
        with self.lock:
            super().reset()
            self.notes = []


class EchoApi(fake_base.BaseApi):
    @route("GET", r"/things/([^/]+)")
    def thing(self, req, name):
        if name == "boom":
            raise RuntimeError("boom")  # a bug in the fake
        with self.state.lock:
            notes = list(self.state.notes)
        return 200, {"x-thing": name}, {"name": name, "notes": notes, "login": req.login}

    def answer(self, req):
        scheme, _, cred = req.headers.get("authorization", "").partition(" ")
        if scheme == "Bearer":
            req.login = TOKENS.get(cred)
        matched = self.match(req.method, req.path)
        if matched is None:
            return 404, {"content-type": JSON_TYPE}, dumps({"message": "no such route"})
        fn, args = matched
        status, headers, obj = fn(req, *args)
        return status, {"content-type": JSON_TYPE, **headers}, dumps(obj)


class EchoControl(fake_base.BaseControl):
    PRESETS = {"down": {"status": 503, "headers": {"retry-after": "7"},
                        "body": {"message": "down for maintenance"}}}

    def check_after(self, spec):
        super().check_after(spec)
        if not isinstance(spec.get("note"), str):
            raise ControlError(400, "after.note: expected a string")

    def run_after(self, spec):
        time.sleep(spec.get("sleep", 0))
        if spec["note"] == "fail":
            raise ControlError(409, "refused")
        with self.state.lock:
            self.state.notes.append(spec["note"])
            return {"notes": list(self.state.notes)}


class EchoServer(fake_base.BaseServer):
    NAME = "fake-echo"
    SERVER_HEADER = "Echo/1"
    state_class = EchoState
    api_class = EchoApi
    control_class = EchoControl

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--note")

    def configure_from_args(self, args):
        if args.note:
            self.state.notes.append(args.note)


class EchoFake(fake_base.BaseFake):
    server_class = EchoServer

    def default_headers(self):
        return {"User-Agent": "echo-tests", "Authorization": "Bearer tok-alice"}


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class EchoTestCase(unittest.TestCase):
    """One fake per class, recording to a fresh file and reset before each test."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fake-base-test-")
        cls.rec = os.path.join(cls.tmp, "rec.jsonl")
        cls.fake = EchoFake(record=cls.rec).start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.fake.reset()
        self.fake.record_to(self.rec)
        if os.path.exists(self.rec):
            os.unlink(self.rec)

    def get(self, name="a", **kw):
        return self.fake.request("GET", f"/things/{name}", **kw)


class BaseBindTest(EchoTestCase):
    def test_listens_on_127_0_0_1_only(self):
        host, port = self.fake.server.server_address
        self.assertEqual(host, "127.0.0.1")
        self.assertGreater(port, 0)  # port 0 asked for a free one
        self.assertEqual(self.fake.url, f"http://127.0.0.1:{port}")
        self.assertEqual(self.fake.server.socket.getsockname()[0], "127.0.0.1")
        self.assertEqual(self.get()[0], 200)
        # Another loopback address of this host reaches no one: not bound to 0.0.0.0.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.2", port), timeout=2).close()


class BaseRecordTest(EchoTestCase):
    def test_exchanges_are_recorded_with_authorization_redacted(self):
        st, h, b = self.get("a?x=1", body={"q": 1})
        self.assertEqual((st, b["login"]), (200, "alice"))
        lines = read_jsonl(self.rec)
        self.assertEqual(len(lines), 1)
        x = lines[0]
        self.assertEqual(set(x), {"method", "url", "reqHeaders", "reqBody", "status",
                                  "resHeaders", "resBody"})
        self.assertEqual((x["method"], x["url"]), ("GET", self.fake.url + "/things/a?x=1"))
        self.assertEqual(x["reqHeaders"]["authorization"], "Bearer ***")
        self.assertEqual(x["reqHeaders"]["user-agent"], "echo-tests")
        self.assertEqual(x["reqBody"], {"q": 1})
        self.assertEqual(x["status"], 200)
        self.assertEqual(x["resHeaders"]["x-thing"], "a")
        self.assertEqual(x["resBody"], {"name": "a", "notes": [], "login": "alice"})
        with open(self.rec, encoding="utf-8") as f:
            self.assertNotIn("tok-alice", f.read())

    def test_opt_outs_and_the_record_switch(self):
        self.get("quiet", headers={"X-Fake-No-Record": "1"})  # served, logged, not recorded
        self.fake.stats()  # control calls are never recorded
        self.assertEqual(read_jsonl(self.rec), [])
        self.assertEqual([r["path"] for r in self.fake.requests()], ["/things/quiet"])
        other = os.path.join(self.tmp, "other.jsonl")
        self.assertEqual(self.fake.record_to(other)["path"], other)
        self.get("b")
        self.fake.record_to(None)
        self.get("c")
        self.assertEqual([x["url"].rsplit("/", 1)[1] for x in read_jsonl(other)], ["b"])
        self.assertEqual(read_jsonl(self.rec), [])


class BaseFaultTest(EchoTestCase):
    def test_status_faults_apply_count_times_to_their_method_and_path(self):
        self.fake.fault("POST", r"^/things/a$", status=500)  # another method: never hit
        self.fake.fault("GET", r"^/things/a$", preset="down", count=2)
        for _ in range(2):
            st, h, b = self.get("a")
            self.assertEqual((st, h["retry-after"], b), (503, "7",
                                                         {"message": "down for maintenance"}))
            self.assertEqual(h["content-type"], JSON_TYPE)
        self.assertEqual(self.get("ab")[0], 200)  # the regex is anchored: another path
        self.assertEqual(self.get("a")[0], 200)  # used up
        post, get = self.fake.faults()
        self.assertEqual((get["hits"], get["remaining"], post["hits"]), (2, 0, 0))
        self.assertEqual(self.fake.clear_faults(), {"faults": []})

    def test_body_headers_and_content_type(self):
        self.fake.fault("GET", "things", status=502, body="<html>bad gateway</html>",
                        content_type="text/html", headers={"X-Proxy": "nginx"})
        st, h, b = self.get()
        self.assertEqual((st, h["content-type"], h["x-proxy"], b),
                         (502, "text/html", "nginx", b"<html>bad gateway</html>"))
        self.assertEqual(read_jsonl(self.rec)[0]["status"], 502)  # recorded like any answer

    def test_drop_delay_and_record_false(self):
        self.fake.fault("GET", "/things/a", drop=True)
        with self.assertRaises(ConnectionError):  # http.client.RemoteDisconnected
            self.get()
        self.fake.fault("GET", "/things/a", delay=0.3)
        t0 = time.monotonic()
        self.assertEqual(self.get()[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.fake.fault("GET", "/things/a", status=418, record=False)
        self.assertEqual(self.get()[0], 418)
        self.assertEqual([x["status"] for x in read_jsonl(self.rec)], [200])
        self.assertEqual([r["status"] for r in self.fake.requests()], [None, 200, 418])

    def test_invalid_faults(self):
        for kw in ({}, {"preset": "nope"}, {"path": "(", "status": 500},
                   {"after": {}}, {"after": {"sleep": 1}}):
            with self.assertRaisesRegex(RuntimeError, "400"):
                self.fake.fault("GET", **kw)
        self.assertEqual(self.fake.faults(), [])


class BaseAfterTest(EchoTestCase):
    def test_after_runs_once_the_normal_answer_is_out(self):
        f = self.fake.fault("GET", r"^/things/a$", after={"note": "edited"})
        self.assertNotIn("status", f)  # `after` alone is a valid fault
        st, h, b = self.get("a")
        self.assertEqual((st, h["x-thing"], b["notes"]), (200, "a", []))  # the normal answer
        self.assertEqual(self.get("b")[2]["notes"], ["edited"])  # then the action ran
        self.assertEqual(self.get("a")[2]["notes"], ["edited"])  # once (count 1)
        runs = self.fake.faults()[0]["after_runs"]
        self.assertEqual(runs, [{"status": 200, "result": {"notes": ["edited"]}}])
        self.assertEqual([x["status"] for x in read_jsonl(self.rec)], [200, 200, 200])

    def test_the_next_request_waits_for_the_action(self):
        self.fake.fault("GET", r"^/things/a$", after={"note": "slow", "sleep": 0.3})
        t0 = time.monotonic()
        self.assertEqual(self.get("a")[2]["notes"], [])
        # a new connection, sent as soon as the answer is in: it sees the action's effect
        self.assertEqual(self.get("b")[2]["notes"], ["slow"])
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)

    def test_after_an_injected_answer_and_when_it_fails(self):
        self.fake.fault("GET", r"^/things/a$", status=503, after={"note": "x"})
        self.fake.fault("GET", r"^/things/b$", after={"note": "fail"})
        self.assertEqual(self.get("a")[0], 503)
        with contextlib.redirect_stderr(io.StringIO()) as err:
            st, h, b = self.get("b")
            self.get("c")  # waits for b's action: its complaint is written by then
        self.assertEqual((st, b["notes"]), (200, ["x"]))  # the answer is unaffected
        self.assertIn("after failed: 409", err.getvalue())
        runs = [f["after_runs"] for f in self.fake.faults()]
        self.assertEqual(runs[1], [{"status": 409, "result": {"error": "refused"}}])


class BaseClockTest(EchoTestCase):
    def test_tick_is_strictly_increasing_and_never_goes_back(self):
        st = self.fake.server.state
        t1, t2, t3 = st.tick(), st.tick(), st.tick()
        self.assertLess(t1, t2)
        self.assertLess(t2, t3)
        self.assertEqual(st.tick(at=t1), t1)  # a stamp from the past, as asked...
        self.assertEqual(st.clock, t3)  # ...but the clock stays where it was
        self.assertGreater(st.tick(), t3)

    def test_advance_moves_forward_only(self):
        start = self.fake.control("GET", "clock")
        self.assertEqual(start["clock"], fake_base.iso(start["epoch"]))
        self.assertRegex(start["clock"], r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
        out = self.fake.advance_clock(3600)
        self.assertEqual(out["epoch"], start["epoch"] + 3600)
        with self.assertRaisesRegex(RuntimeError, "only moves forward"):
            self.fake.advance_clock(-10)
        self.assertEqual(self.fake.advance_clock(0)["epoch"], start["epoch"] + 3600)
        self.fake.reset()  # a reset keeps the clock
        self.assertEqual(self.fake.control("GET", "clock")["epoch"], start["epoch"] + 3600)


class BaseRequestLogTest(EchoTestCase):
    def test_requests_since_and_stats(self):
        self.get("a")
        start = self.fake.last_seq()
        self.get("b?x=1&y=&x=2", body={"k": "v"})
        self.fake.request("GET", "/nowhere", headers={"Authorization": None})
        got = self.fake.requests(since=start)
        self.assertEqual([(r["seq"], r["method"], r["path"], r["status"]) for r in got],
                         [(start + 1, "GET", "/things/b", 200),
                          (start + 2, "GET", "/nowhere", 404)])
        b = got[0]
        self.assertEqual((b["query"], b["query_string"]), ({"x": "1", "y": ""}, "x=1&y=&x=2"))
        self.assertNotIn("authorization", b["headers"])
        self.assertEqual(b["headers"]["user-agent"], "echo-tests")
        self.assertEqual(b["auth"], {"scheme": "Bearer", "login": "alice"})
        self.assertEqual((b["body"], b["request_id"]), ({"k": "v"}, None))
        self.assertIsNone(got[1]["auth"])
        self.assertEqual(self.fake.last_seq(), start + 2)
        self.assertEqual(self.fake.stats(), {"requests": 3, "by_status": {"200": 2, "404": 1}})
        self.fake.reset()
        self.assertEqual((self.fake.requests(), self.fake.last_seq()), ([], 0))


class BaseFramingTest(EchoTestCase):
    def test_framing_answers(self):
        st, h, b = self.get("a")
        self.assertEqual(h["server"], "Echo/1")
        st, h, b = self.fake.request("POST", "/things/a", b"x" * (fake_base.MAX_BODY + 1))
        self.assertEqual((st, b), (413, {"message": "Request body is larger than 1048576 bytes"}))
        self.assertEqual(h["connection"], "close")
        with contextlib.redirect_stderr(io.StringIO()):  # the traceback of the "bug"
            st, h, b = self.get("boom")
        self.assertEqual((st, b), (500, {"message": "fake-echo internal error: RuntimeError: "
                                                    "boom"}))
        self.assertEqual(self.get("a")[0], 200)

    def test_control_errors(self):
        with self.assertRaisesRegex(RuntimeError, "404.*no control route GET /_fake/nope"):
            self.fake.control("GET", "nope")
        conn = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("POST", "/_fake/faults", body=b"{not json")
        r = conn.getresponse()
        self.assertEqual((r.status, json.loads(r.read())), (400, {"error": "body is not JSON"}))
        self.assertEqual(self.fake.requests(), [])  # control calls are not API requests


class BaseCliTest(unittest.TestCase):
    def test_main_serves_records_and_stops_on_sigterm(self):
        tmp = tempfile.mkdtemp(prefix="fake-base-cli-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rec = os.path.join(tmp, "x.jsonl")
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import fake_base, test_fake_base; "
                "sys.exit(fake_base.main(test_fake_base.EchoServer, 'echo', sys.argv[2:]))")
        p = subprocess.Popen([sys.executable, "-c", code, HERE, "--port", "0", "--record", rec,
                              "--note", "from-cli"], stdout=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            m = re.fullmatch(r"fake-echo listening on http://127\.0\.0\.1:(\d+)\n", line)
            self.assertIsNotNone(m, line)
            conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=10)
            conn.request("GET", "/things/a", headers={"Authorization": "Bearer tok-alice"})
            r = conn.getresponse()
            self.assertEqual((r.status, json.loads(r.read())["notes"]), (200, ["from-cli"]))
            conn.close()
        finally:
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)
            p.stdout.close()
        lines = read_jsonl(rec)
        self.assertEqual([(x["status"], x["reqHeaders"]["authorization"]) for x in lines],
                         [(200, "Bearer ***")])


if __name__ == "__main__":
    unittest.main()
