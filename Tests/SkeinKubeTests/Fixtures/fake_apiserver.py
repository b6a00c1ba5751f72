#!/usr/bin/env python3
"""A fake Kubernetes API server for SkeinKube's tests. Python 3 standard library only.

No Kubernetes API server can be installed on the machines these tests run on, so this speaks just
the shapes SkeinKube uses, with the API server's semantics where they matter:

  GET  /api/v1/namespaces/{ns}/pods/{name}
  PUT  /api/v1/namespaces/{ns}/pods/{name}/status   (resourceVersion checked: 409 on mismatch)
  GET  /apis/k8s.cni.cncf.io/v1/namespaces/{ns}/network-attachment-definitions/{name}
  anything else: 404 Status without details, as for a resource the server does not serve

Usage: fake_apiserver.py --dir DIR [--plain] [--cert F --key F --client-ca F]
  DIR/seed.json     pods and NADs to serve: {"pods": [{namespace, name, uid, annotations}],
                    "nads": [{namespace, name, config}]}
  DIR/control.json  knobs, re-read on every request (the test rewrites it at run time):
                    token        bearer token required (absent/null: no authentication);
                                 a client certificate signed by --client-ca also authenticates
                    conflicts    answer this many status PUTs with 409, each time bumping the pod's
                                 resourceVersion as another writer would
                    unavailable  answer this many requests with 503
                    hang         accept requests and never answer
                    chunked      send bodies with chunked transfer coding, in small chunks
                    noNADs       serve no NAD resource at all (CRD not installed)
                    Counters restart whenever the file's content changes.
  DIR/requests.log  one JSON line per request: method, path, auth, cn (client cert), status

Prints "PORT <n>" on stdout once listening on 127.0.0.1 (port chosen by the kernel).
"""
import argparse
import json
import os
import re
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POD = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)$")
POD_STATUS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/status$")
NAD = re.compile(r"^/apis/k8s\.cni\.cncf\.io/v1/namespaces/([^/]+)/network-attachment-definitions/([^/]+)$")


class State:
    def __init__(self, directory):
        self.dir = directory
        self.lock = threading.Lock()
        self.control_text = None
        self.control = {}
        self.remaining = {}
        seed = json.load(open(os.path.join(directory, "seed.json")))
        self.pods = {(p["namespace"], p["name"]): self.pod(p) for p in seed.get("pods", [])}
        self.nads = {(n["namespace"], n["name"]): self.nad(n) for n in seed.get("nads", [])}

    @staticmethod
    def pod(p):
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": p["name"], "namespace": p["namespace"], "uid": p["uid"],
                             "resourceVersion": "1", "annotations": p.get("annotations", {})},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
                "status": {"phase": "Pending"}}

    @staticmethod
    def nad(n):
        return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
                "metadata": {"name": n["name"], "namespace": n["namespace"], "resourceVersion": "7"},
                "spec": {"config": n["config"]}}

    def refresh(self):
        """Re-reads control.json; resets the counters when its content changed."""
        try:
            text = open(os.path.join(self.dir, "control.json")).read()
        except FileNotFoundError:
            text = "{}"
        if text != self.control_text:
            self.control_text = text
            self.control = json.loads(text)
            self.remaining = {"conflicts": self.control.get("conflicts", 0),
                              "unavailable": self.control.get("unavailable", 0)}
        return self.control

    def take(self, counter):
        if self.remaining.get(counter, 0) > 0:
            self.remaining[counter] -= 1
            return True
        return False

    def log(self, entry):
        with open(os.path.join(self.dir, "requests.log"), "a") as f:
            f.write(json.dumps(entry) + "\n")


def status(code, reason, message, name=None, kind=None):
    details = {"name": name, "kind": kind} if name else {}
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "details": details, "code": code}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        # The handshake runs here, on the connection's own thread: a client that stalls or rejects
        # the certificate must not block the accept loop.
        self.cn = None
        if self.server.tls_context is not None:
            self.request.settimeout(10)
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True)
            cert = self.request.getpeercert()
            if cert:
                self.cn = dict(x[0] for x in cert["subject"]).get("commonName")
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_PUT(self):
        self.dispatch("PUT")

    def dispatch(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        state = self.server.state
        auth = self.headers.get("Authorization")
        with state.lock:
            control = state.refresh()
            entry = {"method": method, "path": self.path, "auth": auth, "cn": self.cn}
            if control.get("hang"):
                entry["status"] = "hang"
                state.log(entry)
            else:
                code, obj = self.route(state, control, method, body, auth)
                entry["status"] = code
                state.log(entry)
        if control.get("hang"):
            time.sleep(60)
            self.close_connection = True
            return
        self.reply(code, obj, control.get("chunked", False))

    def route(self, state, control, method, body, auth):
        token = control.get("token")
        if token is not None and auth != "Bearer " + token and self.cn is None:
            return status(401, "Unauthorized", "Unauthorized")
        if state.take("unavailable"):
            return status(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        m = POD.match(self.path)
        if m and method == "GET":
            pod = state.pods.get(m.groups())
            return (200, pod) if pod else status(404, "NotFound", 'pods "%s" not found' % m[2], m[2], "pods")
        m = POD_STATUS.match(self.path)
        if m and method == "PUT":
            return self.put_status(state, m.groups(), body)
        m = NAD.match(self.path)
        if m and method == "GET" and not control.get("noNADs"):
            nad = state.nads.get(m.groups())
            if nad:
                return 200, nad
            return status(404, "NotFound", 'network-attachment-definitions.k8s.cni.cncf.io "%s" not found' % m[2],
                          m[2], "network-attachment-definitions")
        return status(404, "NotFound", "the server could not find the requested resource")

    def put_status(self, state, key, body):
        pod = state.pods.get(key)
        if pod is None:
            return status(404, "NotFound", 'pods "%s" not found' % key[1], key[1], "pods")
        try:
            new = json.loads(body)
            meta = new["metadata"]
        except (ValueError, KeyError, TypeError):
            return status(400, "BadRequest", "body is not a pod")
        if meta.get("name") != key[1] or meta.get("namespace", key[0]) != key[0]:
            return status(400, "BadRequest", "name or namespace does not match the URL")
        current = pod["metadata"]
        if meta.get("uid") not in (None, current["uid"]):
            return status(409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                          % (meta.get("uid"), current["uid"]), key[1], "pods")
        conflict = 'Operation cannot be fulfilled on pods "%s": the object has been modified; ' \
                   'please apply your changes to the latest version and try again' % key[1]
        if state.take("conflicts"):
            # Another writer got there first: its change is visible to the next GET.
            current["resourceVersion"] = str(int(current["resourceVersion"]) + 1)
            current["annotations"]["other-writer"] = current["resourceVersion"]
            return status(409, "Conflict", conflict, key[1], "pods")
        if meta.get("resourceVersion") != current["resourceVersion"]:
            return status(409, "Conflict", conflict, key[1], "pods")
        current["annotations"] = meta.get("annotations") or {}
        current["resourceVersion"] = str(int(current["resourceVersion"]) + 1)
        pod["status"] = new.get("status", pod["status"])
        return 200, pod

    def reply(self, code, obj, chunked):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 7):
                part = data[i:i + 7]
                ext = ";ext=1" if i == 0 else ""
                self.wfile.write(b"%x%s\r\n%s\r\n" % (len(part), ext.encode(), part))
            self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Handshakes a test makes fail on purpose (wrong CA) land here: note them, quietly.
        print("connection error: %r" % (sys.exc_info()[1],), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client-ca")
    args = ap.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.state = State(args.dir)
    server.tls_context = None
    if not args.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.load_verify_locations(args.client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        server.tls_context = ctx
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
