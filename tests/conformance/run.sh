#!/bin/sh
# tests/conformance/run.sh [--spec github|jira] [--install-only] RECORDED.jsonl...
#
# Checks HTTP exchanges recorded by the tracker fakes against the tracker's official OpenAPI
# description, offline, with Stoplight Prism's router and validators:
#   --spec github (the default): GitHub's description (shared/specs/github-api.github.com.json)
#       for tests/fakes/fake_github.py --record FILE, or FAKE_GITHUB_RECORD=FILE;
#   --spec jira: Jira Cloud's platform v3 description (shared/specs/jira-platform-v3.json)
#       for tests/fakes/fake_jira.py --record FILE, or FAKE_JIRA_RECORD=FILE.
# Steps:
#   1. installs the pinned npm packages into tests/conformance/node_modules when they are
#      missing or older than package-lock.json (npm ci, bounded by NPM_TIMEOUT, 600 s);
#   2. makes the Prism-ready spec with shared/tools/conformance/fix-spec.js and caches it
#      as build/conformance/github-api.fixed.json or build/conformance/
#      jira-platform-v3.fixed.json (remade when its inputs change);
#   3. runs shared/tools/conformance/validate-exchanges.js over all files at once and prints
#      "conformance: N exchanges checked, M violations" as its last line.
# Exit 0 when there is no violation, 1 when there is one or when the files hold no exchange,
# 2 on a usage or set-up error.
# The full per-exchange report is kept in build/conformance/report.txt (GitHub) or
# build/conformance/report-jira.txt (Jira).
#
# GitHub: one known false positive is handled, and only that one: GitHub's real Link headers
# point at /repositories/{repository_id}/issues?...&page=N, a route the description does not
# have, so Prism cannot resolve it ("route not resolved"). The fake serves and advertises that
# route like GitHub does. GET exchanges whose path is exactly /repositories/<digits>/issues are
# validated as the equivalent documented operation (GET /repos/{owner}/{repo}/issues, with
# owner "repositories" and repo "<id>") instead of being dropped, so their query parameters
# and response bodies are still checked. Nothing else is rewritten or filtered.
#
# Jira: the description covers Jira Cloud REST v3 only. Exchanges whose path does not start
# with /rest/api/3/ (Cloud v2 with wiki strings, /rest/api/latest, and every Data Center
# exchange, DC having no v3) are not described by it: they are left out and counted
# ("N v2/DC exchanges skipped"). Nothing else is filtered or rewritten. When the files hold
# exchanges but every one of them is such a v2/DC exchange, nothing can be checked: the run
# says so and exits 0.
set -u

here=$(cd "$(dirname "$0")" && pwd) || exit 2
root=$(cd "$here/../.." && pwd) || exit 2
shared=${CLOSELOOP_SHARED_DIR:-$root/../shared}
tools=$shared/tools/conformance
out=$root/build/conformance
usage="usage: tests/conformance/run.sh [--spec github|jira] [--install-only] RECORDED.jsonl..."

kind=github
install_only=0
while [ $# -gt 0 ]; do
    case $1 in
    --install-only)
        install_only=1
        shift
        ;;
    --spec)
        if [ $# -lt 2 ]; then
            echo "$usage" >&2
            exit 2
        fi
        kind=$2
        shift 2
        ;;
    --spec=*)
        kind=${1#--spec=}
        shift
        ;;
    --)
        shift
        break
        ;;
    -*)
        echo "$usage" >&2
        exit 2
        ;;
    *) break ;;
    esac
done
case $kind in
github)
    spec_in=$shared/specs/github-api.github.com.json
    spec=$out/github-api.fixed.json
    sfx=
    ;;
jira)
    spec_in=$shared/specs/jira-platform-v3.json
    spec=$out/jira-platform-v3.fixed.json
    sfx=-jira
    ;;
*)
    echo "conformance: unknown spec '$kind' (github or jira)" >&2
    exit 2
    ;;
esac
if [ "$install_only" = 0 ] && [ $# -eq 0 ]; then
    echo "$usage" >&2
    exit 2
fi
for tool in node npm python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "conformance: $tool is not installed (Node 20 + npm are needed)" >&2
        exit 2
    fi
done

# newer A B: A was modified after B (POSIX test has no -nt).
newer() {
    [ -n "$(find "$1" -prune -newer "$2" 2>/dev/null)" ]
}

# --- 1. npm packages ----------------------------------------------------------------------
mods=$here/node_modules
stamp=$mods/.package-lock.json # written by npm ci
if [ ! -f "$stamp" ] || newer "$here/package-lock.json" "$stamp" ||
    [ ! -f "$mods/@stoplight/prism-http/package.json" ] ||
    [ ! -f "$mods/fp-ts/package.json" ] ||
    [ ! -f "$mods/@octokit/webhooks-examples/package.json" ]; then
    t0=$(date +%s)
    echo "conformance: installing npm packages into ${here#"$root"/}/node_modules" >&2
    if ! (cd "$here" && timeout "${NPM_TIMEOUT:-600}" npm ci --no-audit --no-fund \
        --loglevel=error >&2); then
        echo "conformance: npm ci failed" >&2
        exit 2
    fi
    echo "conformance: npm ci took $(($(date +%s) - t0)) s" >&2
fi
[ "$install_only" = 0 ] || exit 0

for f in "$tools/fix-spec.js" "$tools/validate-exchanges.js" "$spec_in"; do
    if [ ! -f "$f" ]; then
        echo "conformance: $f is missing (shared/ must sit beside the repository)" >&2
        exit 2
    fi
done
for f in "$@"; do
    if [ ! -r "$f" ]; then
        echo "conformance: cannot read $f" >&2
        exit 2
    fi
done

# --- 2. the fixed spec, cached ---------------------------------------------------------------
mkdir -p "$out" || exit 2
if [ ! -s "$spec" ] || newer "$spec_in" "$spec" || newer "$tools/fix-spec.js" "$spec"; then
    if ! node "$tools/fix-spec.js" "$spec_in" "$spec.tmp" 2>"$out/fix-spec$sfx.log"; then
        cat "$out/fix-spec$sfx.log" >&2
        rm -f "$spec.tmp"
        exit 2
    fi
    mv "$spec.tmp" "$spec" || exit 2
fi

# --- 3. validate -----------------------------------------------------------------------------
# One combined file (the spec loads once); origins*.txt maps its lines back to FILE:LINE.
combined=$out/exchanges$sfx.jsonl
origins=$out/origins$sfx.txt
python3 - "$kind" "$combined" "$origins" "$@" <<'PY'
import json, re, sys, urllib.parse
kind, combined, origins, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
link_route = re.compile(r"/repositories/([0-9]+)/issues")
mapped = skipped = kept = 0
with open(combined, "w", encoding="utf-8") as out, open(origins, "w", encoding="utf-8") as org:
    for name in files:
        with open(name, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    x = json.loads(line)
                except ValueError as e:
                    sys.exit(f"conformance: {name}:{i}: not JSON: {e}")
                u = urllib.parse.urlsplit(x.get("url", ""))
                if kind == "jira" and not u.path.startswith("/rest/api/3/"):
                    skipped += 1  # v2/DC: not in the v3 description (see the top of run.sh)
                    continue
                kept += 1
                m = link_route.fullmatch(u.path) if kind == "github" else None
                note = ""
                if m and str(x.get("method", "")).upper() == "GET":  # see the top of run.sh
                    x["url"] = urllib.parse.urlunsplit(
                        u._replace(path=f"/repos/repositories/{m.group(1)}/issues"))
                    mapped += 1
                    note = " (Link route, checked as /repos/{owner}/{repo}/issues)"
                out.write(json.dumps(x, ensure_ascii=False) + "\n")
                org.write(f"{name}:{i}{note}\n")
if kind == "github":
    print(f"conformance: {mapped} Link-route exchanges checked as "
          "GET /repos/{owner}/{repo}/issues", file=sys.stderr)
else:
    print(f"conformance: {skipped} v2/DC exchanges skipped (not described by the v3 "
          "description)", file=sys.stderr)
    if kept == 0 and skipped > 0:
        sys.exit(3)
PY
rc=$?
if [ "$rc" = 3 ]; then
    echo "conformance: every exchange was a v2/DC one: nothing to check against the v3" \
        "description" >&2
    echo "conformance: 0 exchanges checked, 0 violations"
    exit 0
fi
[ "$rc" = 0 ] || exit 2

t0=$(date +%s)
report=$out/report$sfx.txt
vlog=$out/validate$sfx.log
# validate-exchanges.js lives in shared/: NODE_PATH lets it find our node_modules.
NODE_PATH=$mods node "$tools/validate-exchanges.js" "$spec" "$combined" \
    >"$report" 2>"$vlog"
rc=$?
t1=$(date +%s)
if ! grep -q '^[0-9]* exchanges, [0-9]* errors' "$vlog"; then
    cat "$vlog" >&2
    echo "conformance: validate-exchanges.js did not finish (exit $rc)" >&2
    exit 2
fi
python3 - "$report" "$origins" <<'PY'
import re, sys
report, origins = sys.argv[1], sys.argv[2]
with open(origins, encoding="utf-8") as f:
    origin = [line.rstrip("\n") for line in f]
block, failing = [], False
def flush():
    if failing:
        print("\n".join(block))
with open(report, encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n")
        m = re.match(r"#(\d+) ", line)
        if m:
            flush()
            n = int(m.group(1))
            failing = ": FAIL" in line or ": ROUTE " in line
            block = [f"{line}   <- {origin[n - 1] if n <= len(origin) else '?'}"]
        elif line.startswith("   error"):
            block.append(line)
flush()
PY
counts=$(sed -n 's/^\([0-9]*\) exchanges, \([0-9]*\) errors.*/\1 \2/p' "$vlog" | tail -n 1)
# shellcheck disable=SC2086 # two numbers
set -- $counts
warnings=$(grep -c '^   warn ' "$report")
echo "conformance: validation took $((t1 - t0)) s, $warnings warnings (undocumented" \
    "statuses and the like), full report in ${report#"$root"/}" >&2
echo "conformance: $1 exchanges checked, $2 violations"
if [ "$1" = 0 ]; then
    echo "conformance: nothing was recorded: that counts as a failure" >&2
    exit 1
fi
[ "$2" = 0 ] || exit 1
[ "$rc" = 0 ] || exit 1
exit 0
