"""The man pages closeloop(1), closeloopd(8) and closeloopd.ini(5), as the programs write them:
groff reads each without a warning, each names every verb or key the programs know (read from
their --help and check-config, not from the page generator), and `make install DESTDIR=...`
lays out the programs, pages, completions, systemd unit and sample config."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

BIN = os.environ.get("CLOSELOOP_BIN_DIR", ".")
SRC = os.environ.get("CLOSELOOP_SRC_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def run(*args, env=None):
    e = dict(os.environ, CLOSELOOP_CONFIG="/dev/null", **(env or {}))
    p = subprocess.run(args, capture_output=True, text=True, timeout=60, env=e)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p.stdout


PAGES = {"closeloop.1": (os.path.join(BIN, "closeloop"), "__man"),
         "closeloopd.8": (os.path.join(BIN, "closeloopd"), "man", "8"),
         "closeloopd.ini.5": (os.path.join(BIN, "closeloopd"), "man", "5")}


def rendered(name):
    """The page as plain text, hyphens and all (what a reader searches)."""
    p = subprocess.run(["groff", "-man", "-Tutf8", "-P-c", "-rLL=200n"],
                       input=run(*PAGES[name]), capture_output=True, text=True, timeout=60)
    plain = re.sub(r".\x08", "", p.stdout)  # grotty's overstriking for bold and underline
    return re.sub(r"[\u2010\u2212]", "-", plain)


def config_keys():
    """Every key closeloopd knows, from check-config: (own keys, {tracker: [keys]})."""
    out = run(os.path.join(BIN, "closeloopd"), "--config", "/dev/null", "check-config",
              env={"CLOSELOOP_DATABASE_URL": "postgresql://x/y"})
    own, trackers, section = [], {}, None
    for line in out.splitlines():
        m = re.match(r"^\[(\w+)\.\w+\]$", line)
        if m:
            section = trackers.setdefault(m.group(1), [])
        elif " = " in line or line.rstrip().endswith("="):
            (own if section is None else section).append(line.split("=")[0].strip())
    return own, trackers


@unittest.skipIf(shutil.which("groff") is None, "groff is not installed (make deps installs it)")
class ManPageTest(unittest.TestCase):
    def test_groff_reads_every_page_without_a_warning(self):
        for name, cmd in PAGES.items():
            with self.subTest(page=name):
                p = subprocess.run(["groff", "-man", "-ww", "-z"], input=run(*cmd),
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_closeloop_1_names_every_verb_and_option(self):
        page = rendered("closeloop.1")
        top = run(os.path.join(BIN, "closeloop"), "--help")
        # "  action add   record ...", or "  dashboard   one screen ..." for a group that is a
        # command alone: the words before the two spaces that start the summary
        verbs = [line.split("  ")[1].split(" ")[:2] for line in top.splitlines()
                 if re.match(r"^  [a-z]+( [a-z-]+)?( [A-Z]+)* {2,}\S", line)]
        verbs = [(w[0], w[1] if len(w) > 1 and not w[1].isupper() else "") for w in verbs]
        self.assertGreater(len(verbs), 20)
        for group, verb in verbs:
            if group in ("help", "completion"):
                continue
            with self.subTest(verb=f"{group} {verb}"):
                self.assertIn(f"closeloop {group} {verb}".strip(), page)
                usage = run(os.path.join(BIN, "closeloop"), group, *([verb] if verb else []),
                            "--help")
                for opt in re.findall(r"^  (--[a-z-]+)", usage, re.M):
                    self.assertIn(opt, page)

    def test_closeloopd_8_names_every_verb_and_flag(self):
        page = rendered("closeloopd.8")
        usage = run(os.path.join(BIN, "closeloopd"), "--help")
        words = re.findall(r"^  ((?:--|-h)?[a-z][a-z -]*?[a-z])(?:  | [A-Z-]|$)", usage, re.M)
        self.assertGreater(len(words), 8)
        for word in words:
            with self.subTest(word=word):
                self.assertIn(word, page)

    def test_closeloopd_ini_5_names_every_key(self):
        page = rendered("closeloopd.ini.5")
        own, trackers = config_keys()
        self.assertIn("database_url", own)
        self.assertEqual(sorted(trackers), ["github", "jira"])
        for key in own:
            self.assertIn(key, page)
        for tracker, keys in trackers.items():
            for key in keys:
                with self.subTest(key=f"{tracker}.{key}"):
                    self.assertIn(key, page)

    def test_the_sample_config_shows_every_key(self):
        with open(os.path.join(SRC, "contrib", "closeloopd.ini.example")) as f:
            sample = f.read()
        own, trackers = config_keys()
        for key in own + [f"{t}_{k}" for t, keys in trackers.items() for k in keys]:
            with self.subTest(key=key):
                self.assertRegex(sample, rf"(?m)^[#; ]*{key} =")


@unittest.skipUnless(os.path.abspath(BIN).endswith(os.path.join("build", "debug")),
                     "make install is tried on the build/debug tree only")
class InstallTest(unittest.TestCase):
    def test_make_install_lays_out_the_files(self):
        with tempfile.TemporaryDirectory() as dest:
            p = subprocess.run(["make", "-s", "-C", SRC, "BUILD=debug", "install",
                                "PREFIX=/opt/cl", "DESTDIR=" + dest],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(p.returncode, 0, p.stderr)
            root = os.path.join(dest, "opt", "cl")
            for rel, mode in (("bin/closeloop", 0o755), ("bin/closeloopd", 0o755),
                              ("share/man/man1/closeloop.1", 0o644),
                              ("share/man/man8/closeloopd.8", 0o644),
                              ("share/man/man5/closeloopd.ini.5", 0o644),
                              ("share/bash-completion/completions/closeloop", 0o644),
                              ("share/zsh/site-functions/_closeloop", 0o644),
                              ("lib/systemd/system/closeloopd.service", 0o644),
                              ("share/doc/closeloop/closeloopd.ini.example", 0o644),
                              ("share/closeloop/sql/0001_schema.sql", 0o644)):
                with self.subTest(file=rel):
                    st = os.stat(os.path.join(root, rel))
                    self.assertEqual(st.st_mode & 0o777, mode)
            with open(os.path.join(root, "lib/systemd/system/closeloopd.service")) as f:
                unit = f.read()
            self.assertIn("ExecStart=/opt/cl/bin/closeloopd ", unit)
            self.assertNotIn("/usr/local/bin", unit)
            with open(os.path.join(root, "share/man/man1/closeloop.1")) as f:
                self.assertIn('.TH "closeloop" "1"', f.read())
            self.assertEqual(os.listdir(dest), ["opt"])  # nothing outside DESTDIR/PREFIX


if __name__ == "__main__":
    unittest.main()
