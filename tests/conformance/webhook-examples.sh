#!/bin/sh
# tests/conformance/webhook-examples.sh OUTDIR
#
# Writes the `issues` example payloads of npm @octokit/webhooks-examples (pinned in
# package.json; api.github.com/index.json) to OUTDIR/issues-1.json ... issues-29.json, one
# example per file, in the package's order, so that C tests can parse real payloads.
# Installs the npm packages first when needed (see run.sh). Prints how many it wrote.
# These are 2019-era payloads: no state_reason, no `closed` example (trackers.md A14).
set -u
if [ $# -ne 1 ]; then
    echo "usage: tests/conformance/webhook-examples.sh OUTDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd) || exit 2
sh "$here/run.sh" --install-only || exit 2
mkdir -p "$1" || exit 2
NODE_PATH=$here/node_modules node - "$1" <<'JS'
const fs = require('fs');
const path = require('path');
const all = require('@octokit/webhooks-examples/api.github.com/index.json');
const issues = all.find(e => e.name === 'issues');
if (!issues || !issues.examples.length) { console.error('no issues examples'); process.exit(1); }
const dir = process.argv[2];
issues.examples.forEach((ex, i) =>
  fs.writeFileSync(path.join(dir, `issues-${i + 1}.json`), JSON.stringify(ex, null, 2) + '\n'));
const actions = [...new Set(issues.examples.map(e => e.action))].join(', ');
console.log(`webhook-examples: ${issues.examples.length} issues payloads (${actions}) in ${dir}`);
JS
