"""Values as people type them, through the real CLI against a running closeloopd: relative and
named dates, local times sent with their zone's offset, enums in any case, the warning for a
due date already past, and errors that name the flag and the shapes it takes."""

import datetime
import json
import os
import re
import subprocess
import unittest
import zoneinfo

from harness import ServiceTestCase

ZONE = "Europe/Paris"


def local_today(zone=ZONE):
    return datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date()


class CliInputTest(ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for args in (("team", "add", "sre"),
                     ("person", "add", "alice", "--name", "Alice", "--email", "a@example.com",
                      "--team", "sre"),
                     ("incident", "add", "INC-1", "--title", "db down")):
            p = cls.svc.cli(*args)
            assert p.returncode == 0, p.stderr

    def cli(self, *args, zone=ZONE):
        return self.svc.cli(*args, env={"TZ": zone})

    def add_action(self, *extra, zone=ZONE):
        """An owned action (so that no "has no owner" warning mixes in): (id, stderr)."""
        p = self.cli("action", "add", "--incident", "INC-1", "--kind", "corrective",
                     "--title", "t", "--owner", "alice", *extra, zone=zone)
        self.assertEqual(p.returncode, 0, p.stderr)
        return int(p.stdout), p.stderr

    def due_of(self, action_id):
        return self.svc.sql("SELECT due_on::text FROM actions WHERE id = :'p1'::bigint",
                            action_id)[0][0]

    def count_actions(self):
        return int(self.svc.sql("SELECT count(*) FROM actions")[0][0])

    def test_due_dates_in_words(self):
        today = local_today()
        friday = today + datetime.timedelta(days=(4 - today.weekday()) % 7 or 7)
        cases = {"today": today, "TOMORROW": today + datetime.timedelta(days=1),
                 "+7d": today + datetime.timedelta(days=7),
                 "+2w": today + datetime.timedelta(days=14),
                 "friday": friday, "Fri": friday, "2031-02-28": datetime.date(2031, 2, 28)}
        for typed, want in cases.items():
            with self.subTest(typed=typed):
                action_id, err = self.add_action("--due", typed)
                self.assertEqual(self.due_of(action_id), want.isoformat())
                self.assertEqual(err, "")

    def test_edit_and_filters_take_the_same_words(self):
        action_id, _ = self.add_action("--due", "+3d")
        p = self.cli("action", "edit", str(action_id), "--due", "+1w", "--reason", "later")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.due_of(action_id),
                         (local_today() + datetime.timedelta(days=7)).isoformat())
        p = self.cli("--json", "action", "list", "--due-after", "+6d", "--due-before", "+8d")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(action_id, [a["id"] for a in json.loads(p.stdout)])
        p = self.cli("--json", "action", "list", "--due-after", "+7d")
        self.assertNotIn(action_id, [a["id"] for a in json.loads(p.stdout)])

    def test_enums_in_any_case_are_sent_as_the_service_spells_them(self):
        p = self.cli("action", "add", "--incident", "INC-1", "--kind", "Preventive",
                     "--title", "enum", "--priority", "p1")
        self.assertEqual(p.returncode, 0, p.stderr)
        row = self.svc.sql("SELECT kind::text, priority::text FROM actions "
                           "WHERE id = :'p1'::bigint", int(p.stdout))
        self.assertEqual(row, [["preventive", "P1"]])
        p = self.cli("incident", "add", "INC-2", "--title", "t", "--severity", "sev2")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.svc.sql("SELECT severity::text FROM incidents WHERE key = 'INC-2'"),
                         [["SEV2"]])
        p = self.cli("--json", "action", "list", "--status", "OPEN,In-Progress")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(json.loads(p.stdout))

    def test_times_without_an_offset_are_the_viewers_local_time(self):
        p = self.cli("incident", "add", "INC-3", "--title", "t", "--started", "2026-11-18 09:30",
                     "--resolved", "2026-11-19")
        self.assertEqual(p.returncode, 0, p.stderr)
        row = self.svc.sql("SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), "
                           "to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') "
                           "FROM incidents WHERE key = 'INC-3'")
        self.assertEqual(row, [["2026-11-18 08:30", "2026-11-18 23:00"]])  # Paris is UTC+1
        p = self.cli("incident", "edit", "INC-3", "--started", "2026-07-01 09:30",
                     "--resolved", "none", zone="America/New_York")
        self.assertEqual(p.returncode, 0, p.stderr)
        row = self.svc.sql("SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') "
                           "FROM incidents WHERE key = 'INC-3'")
        self.assertEqual(row, [["2026-07-01 13:30"]])  # summer time there: UTC-4

    def test_a_past_due_date_is_sent_with_a_warning(self):
        past = local_today() - datetime.timedelta(days=5)
        action_id, err = self.add_action("--due", past.isoformat())
        self.assertEqual(err, f"closeloop: warning: --due {past.isoformat()} is in the past "
                              f"(5 days ago)\n")
        self.assertEqual(self.due_of(action_id), past.isoformat())
        p = self.cli("action", "edit", str(action_id), "--due", "yesterday", "--reason", "later")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("is in the past (1 day ago)", p.stderr)

    def test_bad_values_name_the_flag_and_the_shapes_and_send_nothing(self):
        before = self.count_actions()
        cases = (("--due", "+1m", "--due cannot count months or years"),
                 ("--due", "next week", "--due must be YYYY-MM-DD, today, tomorrow, yesterday, "
                                        "+Nd, +Nw or a weekday (fri), not 'next week'"),
                 ("--priority", "p9", "--priority must be one of P0 P1 P2 P3 P4, not 'p9'"))
        for flag, value, message in cases:
            with self.subTest(flag=flag, value=value):
                p = self.cli("action", "add", "--incident", "INC-1", "--kind", "corrective",
                             "--title", "t", flag, value)
                self.assertEqual(p.returncode, 2)
                self.assertIn(message, p.stderr)
        p = self.cli("incident", "edit", "INC-1", "--started", "2026-03-29 02:30")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--started names a local time that does not exist in this time zone",
                      p.stderr)
        self.assertEqual(self.count_actions(), before)


class CliTimesTest(ServiceTestCase):
    """Times in tables and views: the viewer's zone (TZ), how long ago; --json unchanged."""

    def test_incident_times_in_the_viewers_zone(self):
        p = self.svc.cli("incident", "add", "INC-9", "--title", "t",
                         "--started", "2026-11-18T23:30:00Z")
        self.assertEqual(p.returncode, 0, p.stderr)
        tokyo = self.svc.cli("incident", "list", env={"TZ": "Asia/Tokyo"}).stdout
        self.assertRegex(tokyo, r"(?m)^INC-9 .* 2026-11-19 ")  # already the 19th there
        utc = self.svc.cli("incident", "list", env={"TZ": "UTC"}).stdout
        self.assertRegex(utc, r"(?m)^INC-9 .* 2026-11-18 ")
        show = self.svc.cli("incident", "show", "INC-9", env={"TZ": "Asia/Tokyo"}).stdout
        self.assertRegex(show, r"started: +2026-11-19 08:30 JST \((\d+d ago|0s ago)\)\n")
        self.assertRegex(show, r"created: +\d{4}-\d\d-\d\d \d\d:\d\d JST \(\d+s ago\)\n")
        js = json.loads(self.svc.cli("--json", "incident", "show", "INC-9",
                                     env={"TZ": "Asia/Tokyo"}).stdout)
        started = datetime.datetime.fromisoformat(js["incident"]["started_at"].replace("Z",
                                                                                       "+00:00"))
        self.assertEqual(started, datetime.datetime(2026, 11, 18, 23, 30,
                                                    tzinfo=datetime.timezone.utc))

    def test_history_cells_have_one_width_and_say_how_long_ago(self):
        self.assertEqual(self.svc.cli("incident", "add", "INC-8", "--title", "t").returncode, 0)
        p = self.svc.cli("action", "add", "--incident", "INC-8", "--kind", "corrective",
                         "--title", "x")
        action_id = p.stdout.strip()
        self.svc.cli("action", "edit", action_id, "--priority", "p0")
        out = self.svc.cli("action", "history", action_id, env={"TZ": "Pacific/Auckland"}).stdout
        rows = out.splitlines()[1:]
        self.assertGreaterEqual(len(rows), 2)
        now = datetime.datetime.now(zoneinfo.ZoneInfo("Pacific/Auckland"))
        for row in rows:
            self.assertRegex(row, r"^\d{4}-\d\d-\d\d \d\d:\d\d +\d+s ago  ")
            self.assertEqual(row.index(" ago") + len(" ago"), 25)
            local = datetime.datetime.strptime(row[:16], "%Y-%m-%d %H:%M")
            self.assertLess(abs((now.replace(tzinfo=None) - local).total_seconds()), 300)
        js = json.loads(self.svc.cli("--json", "action", "history", action_id).stdout)
        self.assertTrue(all(re.match(r"\d{4}-\d\d-\d\dT", e["at"]) for e in js))


def run_cli(*args):
    """closeloop ARGS with no service configured (a request would fail with exit 3)."""
    env = dict(os.environ, CLOSELOOP_URL="http://127.0.0.1:9", CLOSELOOP_TOKEN="t",
               CLOSELOOP_CONFIG="/dev/null")
    return subprocess.run([os.path.join(os.environ.get("CLOSELOOP_BIN_DIR", "."), "closeloop"),
                           *args], capture_output=True, text=True, timeout=20, env=env)


class HelpTest(unittest.TestCase):
    def test_help_words_print_what_help_flags_print(self):
        for words in ((), ("action",), ("action", "add"), ("report", "overdue")):
            with self.subTest(words=words):
                verb = run_cli("help", *words)
                flag = run_cli(*words, "--help")
                self.assertEqual((verb.returncode, verb.stderr), (0, ""))
                self.assertEqual(verb.stdout, flag.stdout)
                self.assertIn("usage: closeloop", verb.stdout)

    def test_bare_closeloop_is_a_short_usage(self):
        p = run_cli()
        self.assertEqual((p.returncode, p.stdout), (2, ""))
        self.assertIn("groups: team person incident action", p.stderr)
        self.assertIn("see 'closeloop help'", p.stderr)
        self.assertLess(len(p.stderr.splitlines()), 20)

    def test_did_you_mean(self):
        cases = ((("acton", "list"), "unknown command 'acton'; did you mean 'action'?"),
                 (("action", "lst"), "unknown verb 'lst' for action; did you mean 'list'?"),
                 (("action", "list", "--ownr", "al"),
                  "unknown option --ownr; did you mean --owner?"),
                 (("help", "incidnet"), "did you mean 'incident'?"))
        for args, message in cases:
            with self.subTest(args=args):
                p = run_cli(*args)
                self.assertEqual(p.returncode, 2)  # a usage error: nothing was sent (else 3)
                self.assertIn(message, p.stderr)
        p = run_cli("frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertNotIn("did you mean", p.stderr)


if __name__ == "__main__":
    unittest.main()
