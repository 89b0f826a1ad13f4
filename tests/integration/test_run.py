"""contrib/run.sh, what `make run` does after building (issue 9, defect 13): a second run
while one serves changes nothing (no new admin token, no CLI config written) and says why;
a CLI config that points at another closeloop is never overwritten.

run.sh works from the directory above its own: the test lays out a copy (contrib/run.sh,
contrib/pgctl.sh, closeloopd and closeloop linked to the build under test) and points it at
a fresh database of the test cluster (CLOSELOOP_DATABASE_URL), so no private PostgreSQL
is started."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import Database, free_port, until

SRC = os.environ.get("CLOSELOOP_SRC_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
BIN = os.environ.get("CLOSELOOP_BIN_DIR") or SRC


class RunScriptTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="clrun.")
        os.makedirs(os.path.join(self.dir, "contrib"))
        for f in ("run.sh", "pgctl.sh"):
            shutil.copy(os.path.join(SRC, "contrib", f), os.path.join(self.dir, "contrib", f))
        for b in ("closeloopd", "closeloop"):
            os.symlink(os.path.abspath(os.path.join(BIN, b)), os.path.join(self.dir, b))
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.db = Database()
        self.port = free_port()
        self.proc = None

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.db.drop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_")}
        e.update({"HOME": self.home, "CLOSELOOP_DATABASE_URL": self.db.dsn,
                  "CLOSELOOP_LISTEN": "127.0.0.1:%d" % self.port})
        e.pop("XDG_CONFIG_HOME", None)
        return e

    def start(self):
        self.proc = subprocess.Popen(["sh", os.path.join(self.dir, "contrib", "run.sh")],
                                     env=self.env(), cwd=self.dir, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        return self.proc

    def config(self, name="config"):
        path = os.path.join(self.home, ".config", "closeloop", name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()

    def tokens(self):
        return [r[0] for r in self.db.sql("SELECT name || ':' || id FROM api_tokens "
                                          "WHERE revoked_at IS NULL ORDER BY id")]

    def serving(self):
        until(lambda: self.config() or self.config("config.make-run"), 30,
              what="run.sh to write a CLI config")
        def up():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False
        until(up, 30, what="closeloopd to listen")

    def test_a_second_run_while_one_serves_changes_nothing(self):
        self.start()
        self.serving()
        first_config, first_tokens = self.config(), self.tokens()
        second = subprocess.run(["sh", os.path.join(self.dir, "contrib", "run.sh")],
                                env=self.env(), cwd=self.dir, capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(second.returncode, 1, second.stdout + second.stderr)
        self.assertIn("already serving", second.stderr)
        self.assertIn("CLOSELOOP_LISTEN", second.stderr)
        self.assertEqual(self.config(), first_config, "the CLI config is untouched")
        self.assertEqual(self.tokens(), first_tokens, "the admin token is not rotated")
        self.assertIsNone(self.proc.poll(), "the first one still serves")

    def test_a_second_run_on_another_port_keeps_the_first_token(self):
        self.start()
        self.serving()
        first_config, first_tokens = self.config(), self.tokens()
        self.assertEqual([t.split(":")[0] for t in first_tokens], ["local-admin-%d" % self.port])
        other = free_port()
        env = dict(self.env(), CLOSELOOP_LISTEN="127.0.0.1:%d" % other)
        second = subprocess.Popen(["sh", os.path.join(self.dir, "contrib", "run.sh")], env=env,
                                  cwd=self.dir, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            until(lambda: len(self.tokens()) == 2, 30, what="the second run's token")
            names = sorted(t.split(":")[0] for t in self.tokens())
            self.assertEqual(names, sorted(["local-admin-%d" % self.port,
                                            "local-admin-%d" % other]))
            self.assertIn(first_tokens[0], self.tokens(), "the first run's token still works")
            self.assertEqual(self.config(), first_config)
        finally:
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=20)

    def test_a_busy_port_is_refused_before_anything_changes(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", self.port))
            s.listen(1)
            p = subprocess.run(["sh", os.path.join(self.dir, "contrib", "run.sh")],
                               env=self.env(), cwd=self.dir, capture_output=True, text=True,
                               timeout=60)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("already listens", p.stderr)
        self.assertIsNone(self.config())

    def test_a_config_pointing_elsewhere_is_kept(self):
        confdir = os.path.join(self.home, ".config", "closeloop")
        os.makedirs(confdir)
        elsewhere = "url = https://closeloop.example.com\ntoken = clt_prod_secret\n"
        with open(os.path.join(confdir, "config"), "w") as f:
            f.write(elsewhere)
        self.start()
        self.serving()
        self.assertEqual(self.config(), elsewhere)
        mine = self.config("config.make-run")
        self.assertIn("url = http://127.0.0.1:%d\n" % self.port, mine)
        self.assertEqual(oct(os.stat(os.path.join(confdir, "config.make-run")).st_mode & 0o777),
                         "0o600")
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        self.assertIn("points elsewhere", out)
        self.assertNotIn("clt_", out, "no token in the output")


if __name__ == "__main__":
    unittest.main()
