"""What the GitHub and Jira sync tests share: a closeloopd with a fake tracker (cls.fake,
which has drain()), and helpers that read closeloop's side through the API, the CLI and SQL.
A class using it defines link(aid) (a dict with "state", or None) and ref_key, the member of
that dict that names the remote issue (GitHub's "number", Jira's "key")."""

from harness import ServiceTestCase, until


class SyncCase(ServiceTestCase):
    fake = None
    ref_key = None

    @classmethod
    def api_ok(cls, method, path, body=None):
        r = cls.svc.request(method, path, body)
        if r.status >= 300:
            raise AssertionError(f"{method} {path}: {r.status} {r.body!r}")
        return r.json

    def cli_ok(self, *args):
        p = self.svc.cli(*args)
        self.assertEqual(p.returncode, 0, f"closeloop {' '.join(map(str, args))}: "
                                          f"{p.stdout}{p.stderr}")
        return p.stdout

    def action(self, aid):
        r = self.svc.request("GET", f"/api/v1/actions/{aid}")
        self.assertEqual(r.status, 200, r.body)
        return r.json

    def wait_action(self, aid, cond, what, timeout=10):
        return until(lambda: (lambda a: a if cond(a) else None)(self.action(aid)), timeout,
                     what=lambda: f"{what}; action is {self.action(aid)}")

    def events(self, aid, field=None, since_id=0):
        rows = self.svc.sql("SELECT id, source, actor, field, old, new FROM events "
                            "WHERE action_id = :'p1' AND id > :'p2' ORDER BY id", aid, since_id)
        out = [dict(zip(("id", "source", "actor", "field", "old", "new"), r)) for r in rows]
        for e in out:
            e["id"] = int(e["id"])
        return [e for e in out if field is None or e["field"] == field]

    def last_event_id(self):
        return int(self.svc.sql("SELECT coalesce(max(id), 0) FROM events")[0][0])

    def pending(self, aid=None):
        """Outbox jobs neither done nor failed (of one action, or all)."""
        q = "SELECT count(*) FROM outbox WHERE done_at IS NULL AND failed_at IS NULL"
        if aid is None:
            return int(self.svc.sql(q)[0][0])
        return int(self.svc.sql(q + " AND action_id = :'p1'", aid)[0][0])

    def inbox_pending(self):
        """Deliveries not applied yet, dead letters (5 attempts) not counted."""
        return int(self.svc.sql("SELECT count(*) FROM inbox WHERE processed_at IS NULL "
                                "AND attempts < 5")[0][0])

    def settle(self, aid=None, timeout=10):
        """Echo webhooks delivered, the inbox applied, the outbox empty and every scope's first
        reconciliation over (a listing that lands later would take the credit for a change
        the test makes), twice running."""
        def quiet():
            return (self.fake.drain(5) and self.inbox_pending() == 0 and self.pending(aid) == 0
                    and self.scopes_unpolled() == 0)
        until(lambda: quiet() and quiet(), timeout,
              what=lambda: f"sync to settle (inbox pending {self.inbox_pending()}, "
                           f"outbox pending {self.pending(aid)}, "
                           f"scopes being listed {self.scopes_unpolled()})")

    def scopes_unpolled(self):
        """Reconciled scopes whose first listing has not ended, or that are being listed."""
        return int(self.svc.sql("SELECT count(*) FROM sync_scopes WHERE last_attempt_at IS NULL "
                                "OR cl_claim_held(claimed_by, claimed_until)")[0][0])

    def wait_linked(self, aid, timeout=10):
        def linked():
            k = self.link(aid)
            return k if k and k["state"] == "linked" and k[self.ref_key] else None
        return until(linked, timeout, what=lambda: f"action {aid} linked; link is {self.link(aid)}")

    def create_linked(self, title, **kw):
        """An action created with its remote issue, settled: (action id, issue reference)."""
        aid = self.add_action(title, **kw)
        link = self.wait_linked(aid)
        self.settle(aid)
        return aid, link[self.ref_key]
