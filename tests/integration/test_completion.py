"""How bash completes closeloop with the script the CLI writes (`closeloop completion bash`):
bash itself runs the completion function on a simulated command line. No service needed."""

import os
import subprocess
import unittest

BIN = os.environ.get("CLOSELOOP_BIN_DIR", ".")


def complete(line):
    """The words bash offers for `line` (the cursor at its end)."""
    words = line.split(" ")
    script = ('source <("$CL" completion bash)\n'
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"\n'
              '_closeloop\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", *words],
                       capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, CL=os.path.join(BIN, "closeloop")))
    if p.returncode != 0:
        raise AssertionError(f"bash failed ({p.returncode}): {p.stderr}")
    return sorted(w for w in p.stdout.split("\n") if w)


class CompletionTest(unittest.TestCase):
    def test_groups(self):
        self.assertEqual(complete("closeloop ac"), ["action"])
        self.assertIn("completion", complete("closeloop "))

    def test_verbs_of_a_group(self):
        self.assertEqual(complete("closeloop action re"), ["reopen"])
        self.assertEqual(complete("closeloop completion "), ["bash"])

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


if __name__ == "__main__":
    unittest.main()
