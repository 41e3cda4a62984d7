#!/usr/bin/python3
"""Bearer-token server for the test registry (hack/registry start --token).

GET /token?service=S&scope=repository:NAME:pull,push with HTTP Basic
credentials answers {"token", "access_token", "expires_in", "issued_at"}.
POST /token takes the OAuth2 password grant as a form. Wrong credentials get
401; no credentials get a token with no access (or pull only with
--anonymous-pull), so the registry then denies, as Docker Hub does for a
private repository. Tokens are ES256 JWTs whose x5c header holds the signing
certificate, which the registry trusts through its rootcertbundle.
"""
import argparse
import base64
import datetime
import http.server
import json
import os
import ssl
import sys
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

TOKEN_LIFETIME = 300
KNOWN_ACTIONS = {"pull", "push", "delete"}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    def __init__(self, key_path, cert_path):
        with open(key_path, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        if not isinstance(self.key, ec.EllipticCurvePrivateKey):
            sys.exit("token_server: the signing key must be EC P-256")
        with open(cert_path, "rb") as f:
            pem = f.read()
        cert = x509.load_pem_x509_certificate(pem)
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]

    def sign(self, claims):
        header = {"typ": "JWT", "alg": "ES256", "x5c": self.x5c}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        # JWS wants the raw 64-byte r||s, not the DER form.
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def grant(scopes, authenticated, anonymous_pull):
    """The access list for the requested scopes: everything asked for when
    authenticated, pull at most when anonymous pulls are allowed, else nothing."""
    access = []
    for scope in scopes:
        for item in scope.split():
            parts = item.split(":")
            if len(parts) < 3:
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            if kind == "repository":
                allowed = KNOWN_ACTIONS if authenticated else ({"pull"} if anonymous_pull else set())
                granted = [a for a in actions if a in allowed or (a == "*" and authenticated)]
            elif kind == "registry" and authenticated:
                granted = actions
            else:
                granted = []
            if granted:
                access.append({"type": kind, "name": name, "actions": granted})
    return access


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "berth-token-server"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass  # requests are logged by log_request_line with the outcome

    def log_request_line(self, status, user, access):
        line = "%s %s %s %s status=%d user=%s access=%s\n" % (
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            self.client_address[0], self.command, self.path, status, user or "-",
            json.dumps(access, separators=(",", ":")))
        with open(self.server.log_path, "a") as f:
            f.write(line)

    def reply(self, status, body, user="", access=(), extra_headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.log_request_line(status, user, list(access))

    def basic_credentials(self):
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except Exception:
            return ("", "\0invalid")
        return (user, password)

    def issue(self, credentials, service, scopes):
        cfg = self.server
        if credentials is not None and credentials != (cfg.user, cfg.password):
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                       user=credentials[0],
                       extra_headers=[("WWW-Authenticate", 'Basic realm="berth-token-server"')])
            return
        if service != cfg.service:
            self.reply(400, {"errors": [{"code": "INVALID_SERVICE", "message": "unknown service"}]})
            return
        user = credentials[0] if credentials else ""
        access = grant(scopes, credentials is not None, cfg.anonymous_pull)
        now = int(time.time())
        claims = {"iss": cfg.issuer, "sub": user, "aud": service, "exp": now + TOKEN_LIFETIME,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        token = cfg.signer.sign(claims)
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.reply(200, {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME,
                         "issued_at": issued}, user=user, access=access)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
            return
        query = urllib.parse.parse_qs(url.query)
        self.issue(self.basic_credentials(), query.get("service", [""])[0], query.get("scope", []))

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        if url.path != "/token" or form.get("grant_type", [""])[0] != "password":
            self.reply(404, {"errors": [{"code": "UNSUPPORTED", "message": "only the password grant"}]})
            return
        credentials = (form.get("username", [""])[0], form.get("password", [""])[0])
        self.issue(credentials, form.get("service", [""])[0], form.get("scope", []))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="the registry's directory; marks the process as its own")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", required=True, help="where the bound port is written")
    parser.add_argument("--key", required=True, help="EC P-256 signing key (PEM)")
    parser.add_argument("--cert", required=True, help="its certificate, put in x5c")
    parser.add_argument("--user", required=True, help="USER:PASS that gets full access")
    parser.add_argument("--service", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--anonymous-pull", action="store_true")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key")
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.user, _, server.password = args.user.partition(":")
    server.service, server.issuer = args.service, args.issuer
    server.log_path, server.anonymous_pull = args.log, args.anonymous_pull
    server.signer = Signer(args.key, args.cert)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)

    # Written atomically only once listening, so the starter can wait for it.
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
