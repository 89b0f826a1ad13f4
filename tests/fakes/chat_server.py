#!/usr/bin/python3
"""A fake chat webhook server (Slack and Microsoft Teams incoming webhooks) for closeloop's
chat tests: plain http.server, bound to 127.0.0.1 on a free port. Prints one JSON line on
stdout once it listens: {"port": PORT}.

Every POST to a path outside /_control is a webhook post: it is recorded (path, headers,
the body parsed as JSON, or its text when it is not JSON, and its form) and answered as
the service behind such a path does, unless a fault is pending for that path:
  - a Teams Workflows path (".../workflows/..."): 202 Accepted with an empty body;
  - a legacy Office 365 connector path (".../webhookb2/..."): 200 "1";
  - any other path (Slack): 200 "ok".
The form says what was posted: "adaptive" (a message with one Adaptive Card attachment:
{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard", ...}}]}),
"messagecard" ({"@type": "MessageCard", ...}), "slack" ({"text" | "blocks", ...}) or
"other". Like the real services, the fake answers whatever the form; the tests look at it.

Control API (JSON in and out, no auth):
  GET  /_control/posts            [{"path", "headers", "json" | null, "text", "form", "at"}]
                                  in arrival order
  POST /_control/fault {"status": 429 | 500 | 404 | ..., "count": K, "path": P (optional:
                        any path when absent), "retry_after": "2" (optional header),
                        "body": "text" (optional), "delay": SECONDS (optional, at most 30)}
                                  the next K posts (to P) get that answer; recorded too
  POST /_control/reset            forget posts and faults

The server exits by itself after --max-life seconds (default 1800), so a forgotten one
never lingers.
"""

import argparse
import http.server
import json
import os
import sys
import threading
import time

MAX_BODY = 1 << 20
MAX_DELAY = 30.0


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []
        self.faults = []  # [{"status", "count", "path", "retry_after", "body", "delay"}]

    def take_fault(self, path):
        with self.lock:
            for f in self.faults:
                if f['count'] > 0 and f.get('path') in (None, path):
                    f['count'] -= 1
                    return dict(f)
        return None


STATE = State()

ADAPTIVE = 'application/vnd.microsoft.card.adaptive'


def form_of(body):
    """What kind of chat message body is: adaptive, messagecard, slack or other."""
    if not isinstance(body, dict):
        return 'other'
    atts = body.get('attachments')
    if body.get('type') == 'message' and isinstance(atts, list) and len(atts) == 1 \
            and isinstance(atts[0], dict) and atts[0].get('contentType') == ADAPTIVE \
            and isinstance(atts[0].get('content'), dict) \
            and atts[0]['content'].get('type') == 'AdaptiveCard':
        return 'adaptive'
    if body.get('@type') == 'MessageCard':
        return 'messagecard'
    if 'blocks' in body or 'text' in body:
        return 'slack'
    return 'other'


def normal_answer(path):
    """(status, body) of the service behind path when all is well."""
    if '/workflows/' in path:
        return 202, ''
    if '/webhookb2/' in path:
        return 200, '1'
    return 200, 'ok'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass  # quiet: the tests read /_control/posts

    def reply(self, status, body, headers=None, ctype='text/plain; charset=utf-8'):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get('Content-Length') or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError('body too large')
        return self.rfile.read(n)

    def do_GET(self):
        if self.path == '/_control/posts':
            with STATE.lock:
                data = json.dumps(STATE.posts)
            self.reply(200, data, ctype='application/json')
        else:
            self.reply(404, 'not found')

    def do_POST(self):
        try:
            raw = self.read_body()
        except ValueError as e:
            self.reply(413, str(e))
            return
        if self.path.startswith('/_control/'):
            self.control(raw)
            return
        text = raw.decode('utf-8', errors='replace')
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        with STATE.lock:
            STATE.posts.append({'path': self.path, 'headers': dict(self.headers.items()),
                                'json': parsed, 'text': text, 'form': form_of(parsed),
                                'at': time.time()})
        fault = STATE.take_fault(self.path)
        if fault is None:
            self.reply(*normal_answer(self.path))
            return
        if fault.get('delay'):
            time.sleep(min(float(fault['delay']), MAX_DELAY))
        headers = {}
        if fault.get('retry_after') is not None:
            headers['Retry-After'] = str(fault['retry_after'])
        self.reply(int(fault['status']), fault.get('body') or 'fault', headers)

    def control(self, raw):
        try:
            body = json.loads(raw or b'{}')
        except ValueError:
            self.reply(400, 'not JSON')
            return
        if self.path == '/_control/fault':
            if not isinstance(body.get('status'), int) or not isinstance(body.get('count', 1), int):
                self.reply(400, 'status and count are integers')
                return
            with STATE.lock:
                STATE.faults.append({'status': body['status'], 'count': body.get('count', 1),
                                     'path': body.get('path'), 'retry_after': body.get('retry_after'),
                                     'body': body.get('body'), 'delay': body.get('delay')})
            self.reply(200, '{}', ctype='application/json')
        elif self.path == '/_control/reset':
            with STATE.lock:
                STATE.posts.clear()
                STATE.faults.clear()
            self.reply(200, '{}', ctype='application/json')
        else:
            self.reply(404, 'not found')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--max-life', type=float, default=1800.0)
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    timer = threading.Timer(args.max_life, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    print(json.dumps({'port': server.server_address[1]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == '__main__':
    main()
