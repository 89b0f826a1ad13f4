"""How bash and zsh complete closeloop with the scripts the CLI writes (`closeloop completion
bash|zsh`): the shell itself runs the completion function on a simulated command line. The
static words come from the verb table; handles, team names, incident keys and action ids come
from a live service through the hidden `closeloop __complete KIND PREFIX`."""

import os
import shutil
import socket
import subprocess
import time
import unittest

from harness import ServiceTestCase

BIN = os.environ.get("CLOSELOOP_BIN_DIR", ".")


def shell_env(env=None):
    """closeloop on PATH (the scripts run it by the name typed), no service unless env says."""
    e = dict(os.environ, PATH=os.path.abspath(BIN) + os.pathsep + os.environ.get("PATH", ""),
             CLOSELOOP_CONFIG="/dev/null", CLOSELOOP_URL="http://127.0.0.1:9")
    e.pop("CLOSELOOP_TOKEN", None)
    e.update(env or {})
    return e


def complete(line, env=None):
    """The words bash offers for `line` (the cursor at its end)."""
    words = line.split(" ")
    script = ('source <(closeloop completion bash)\n'
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"\n'
              '_closeloop\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", *words],
                       capture_output=True, text=True, timeout=20, env=shell_env(env))
    if p.returncode != 0 or p.stderr:
        raise AssertionError(f"bash failed ({p.returncode}): {p.stderr}")
    return sorted(w for w in p.stdout.split("\n") if w)


# Outside a completion widget zsh has no compadd: these stand-ins print what would be offered.
ZSH_STUBS = r'''
compdef() { :; }
compset() { [[ $1 == -P ]] && PREFIX=${PREFIX##*,}; }
compadd() {  # what zsh's default matcher keeps: the words that start with $PREFIX
    while [[ $1 != -- ]]; do shift; done; shift
    print -l -- ${(M)@:#${PREFIX}*}
}
'''


def complete_zsh(line, env=None):
    """The words the zsh script offers for `line` (the cursor at its end)."""
    words = line.split(" ")
    script = (ZSH_STUBS + 'source <(closeloop completion zsh)\n'
              'words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}\n'
              '_closeloop\n')
    p = subprocess.run(["zsh", "-f", "-c", "function main { " + script + " }; main \"$@\"",
                        "zsh", *words],
                       capture_output=True, text=True, timeout=20, env=shell_env(env))
    if p.returncode != 0 or p.stderr:
        raise AssertionError(f"zsh failed ({p.returncode}): {p.stderr}")
    return sorted(w for w in p.stdout.split("\n") if w)


class CompletionTest(unittest.TestCase):
    def test_groups(self):
        self.assertEqual(complete("closeloop ac"), ["action"])
        self.assertIn("completion", complete("closeloop "))
        self.assertIn("help", complete("closeloop "))

    def test_verbs_of_a_group(self):
        self.assertEqual(complete("closeloop action re"), ["reopen"])
        self.assertEqual(complete("closeloop completion "), ["bash", "zsh"])
        self.assertEqual(complete("closeloop help inc"), ["incident"])
        self.assertEqual(complete("closeloop help action as"), ["assign"])

    def test_options_of_a_verb_and_the_globals(self):
        self.assertEqual(complete("closeloop action list --st"), ["--status"])
        self.assertIn("--json", complete("closeloop action list --"))
        self.assertNotIn("--status", complete("closeloop action add --"))

    def test_values_of_an_option(self):
        self.assertEqual(complete("closeloop action add --kind "), ["corrective", "preventive"])
        self.assertEqual(complete("closeloop action list --status open,bl"), ["open,blocked"])
        self.assertEqual(complete("closeloop action add --title "), [])  # nothing to guess

    def test_values_and_flags_are_skipped_to_find_the_verb(self):
        self.assertEqual(complete("closeloop --url http://x action lis"), ["list"])
        self.assertEqual(complete("closeloop --json action add --kind corrective --ti"),
                         ["--title"])

    def test_no_service_means_no_words_and_no_noise(self):
        # complete() fails on any stderr output: the user's line stays clean
        self.assertEqual(complete("closeloop action list --owner "), [])
        self.assertEqual(complete("closeloop action done ", {"CLOSELOOP_TOKEN": "t"}), [])

    def test_a_silent_service_costs_about_a_second(self):
        with socket.socket() as s:  # accepts connections (backlog) and never answers
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            env = {"CLOSELOOP_URL": "http://127.0.0.1:%d" % s.getsockname()[1],
                   "CLOSELOOP_TOKEN": "t"}
            started = time.monotonic()
            self.assertEqual(complete("closeloop person show ", env), [])
            self.assertLess(time.monotonic() - started, 4.0)

    def test_hidden_complete_says_nothing_on_errors(self):
        for args in (("__complete", "bogus", "x"), ("__complete", "handles"), ("__complete",)):
            with self.subTest(args=args):
                p = subprocess.run([os.path.join(BIN, "closeloop"), *args], capture_output=True,
                                   text=True, timeout=20, env=shell_env({"CLOSELOOP_TOKEN": "t"}))
                self.assertNotEqual(p.returncode, 0)
                self.assertEqual((p.stdout, p.stderr), ("", ""))


@unittest.skipIf(shutil.which("zsh") is None, "zsh is not installed (make deps installs it)")
class ZshCompletionTest(unittest.TestCase):
    def test_zsh_script_offers_the_same_words(self):
        for line in ("closeloop ac", "closeloop action re", "closeloop action list --st",
                     "closeloop action add --kind ", "closeloop --json action add --kind x --ti",
                     "closeloop completion ", "closeloop help action as"):
            with self.subTest(line=line):
                self.assertEqual(complete_zsh(line), complete(line))

    def test_zsh_comma_lists(self):
        self.assertEqual(complete_zsh("closeloop action list --status open,bl"), ["blocked"])


class LiveCompletionTest(ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ids = []
        for args in (("team", "add", "sre"), ("team", "add", "platform"),
                     ("person", "add", "alice", "--name", "A", "--email", "a@example.com"),
                     ("person", "add", "albert", "--name", "B", "--email", "b@example.com"),
                     ("person", "add", "bob", "--name", "C", "--email", "c@example.com"),
                     ("incident", "add", "INC-7", "--title", "t"),
                     ("incident", "add", "OPS-3", "--title", "t"),
                     ("action", "add", "--incident", "INC-7", "--kind", "corrective",
                      "--title", "a"),
                     ("action", "add", "--incident", "INC-7", "--kind", "corrective",
                      "--title", "b")):
            p = cls.svc.cli(*args)
            assert p.returncode == 0, p.stderr
            ids.append(p.stdout.strip())
        cls.action_ids = sorted(ids[-2:])

    def env(self):
        return {"CLOSELOOP_URL": self.svc.url, "CLOSELOOP_TOKEN": self.svc.tokens["read"]}

    def test_handles(self):
        e = self.env()
        self.assertEqual(complete("closeloop action list --owner al", e), ["albert", "alice"])
        self.assertEqual(complete("closeloop incident edit INC-7 --facilitator b", e), ["bob"])
        self.assertEqual(complete("closeloop team add x --manager ", e),
                         ["albert", "alice", "bob"])
        self.assertEqual(complete("closeloop person show alb", e), ["albert"])
        self.assertEqual(complete("closeloop action assign 1 b", e), ["bob"])

    def test_teams_incidents_and_actions(self):
        e = self.env()
        self.assertEqual(complete("closeloop action list --team ", e), ["platform", "sre"])
        self.assertEqual(complete("closeloop team edit s", e), ["sre"])
        self.assertEqual(complete("closeloop action add --incident I", e), ["INC-7"])
        self.assertEqual(complete("closeloop incident show ", e), ["INC-7", "OPS-3"])
        self.assertEqual(complete("closeloop action start ", e), self.action_ids)
        self.assertEqual(complete("closeloop --json action edit ", e), self.action_ids)

    def test_only_where_the_table_says(self):
        e = self.env()
        self.assertEqual(complete("closeloop person add ", e), [])  # a new handle
        self.assertEqual(complete("closeloop action assign 1 bob ", e), [])  # no third
        self.assertEqual(complete("closeloop action add --title ", e), [])

    def test_a_refused_token_gives_nothing(self):
        e = dict(self.env(), CLOSELOOP_TOKEN="not-a-token")
        self.assertEqual(complete("closeloop person show ", e), [])

    @unittest.skipIf(shutil.which("zsh") is None, "zsh is not installed")
    def test_zsh_fetches_the_same(self):
        e = self.env()
        for line in ("closeloop action list --owner al", "closeloop incident show ",
                     "closeloop action done "):
            with self.subTest(line=line):
                self.assertEqual(complete_zsh(line, e), complete(line, e))


if __name__ == "__main__":
    unittest.main()
