"""A complete certloop script CA connector: a corporate CA reached through `openssl`.

certloop imports this file once per profile and keeps it loaded, so module globals (the CA
material, an "auth token", counters) survive between calls; it reloads the file when its
content changes. The contract:

    certificate_request(csr, common_name, args_dict) -> str   # required
    renew_certificate(cert_pem, csr, common_name, args_dict) -> str   # optional
    revoke_certificate(cert_pem, reason, args_dict) -> None   # optional

`csr` is a PEM PKCS#10 request, `common_name` the subject CN, `args_dict` the profile's
parameters merged with the request's dynamic ones. Return the leaf certificate in PEM,
optionally followed by its chain. Raise to refuse: the exception type, message and traceback
reach the caller (sensitive values redacted); set `retryable = True` on an exception, or raise
ConnectionError / TimeoutError, when trying again later can help.

Parameters this script reads:
    ca_dir    (fixed)      where the CA lives; created on first use
    password  (sensitive)  "logs in" to the CA: the first login sets it, later ones must match
    days      (fixed)      certificate lifetime in days (default 30)
    ticket    (dynamic)    a change ticket each request must carry, e.g. CHG-42

Everything it does is appended to <ca_dir>/journal.log, so a test can see that the login
happens once per loaded module and not once per call.
"""

import hashlib
import logging
import os
import re
import subprocess
import tempfile

log = logging.getLogger("corp_ca")

# Module state: kept between calls while certloop keeps the module loaded.
_token = None
_calls = 0


class LoginFailed(PermissionError):
    """The CA refused the credentials; retrying with the same ones cannot help."""

    retryable = False


def _openssl(*args, cwd=None):
    done = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False
    )
    if done.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], done.stderr.strip()))
    return done.stdout


def _journal(ca_dir, line):
    with open(os.path.join(ca_dir, "journal.log"), "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _ca(args_dict):
    """The CA directory, with a root key and certificate made on first use."""
    ca_dir = args_dict.get("ca_dir") or os.path.join(tempfile.gettempdir(), "corp-script-ca")
    os.makedirs(ca_dir, mode=0o700, exist_ok=True)
    if not os.path.exists(os.path.join(ca_dir, "ca.pem")):
        _openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
            "-subj", "/O=Corp/CN=Corp Script CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=ca_dir,
        )
        os.chmod(os.path.join(ca_dir, "ca.key"), 0o600)
    return ca_dir


def _login(ca_dir, password):
    """Return the session token, logging in only when there is none yet."""
    global _token
    if _token is not None:
        return _token
    digest = hashlib.sha256(password.encode()).hexdigest()
    stored = os.path.join(ca_dir, "password.sha256")
    if os.path.exists(stored):
        with open(stored, encoding="utf-8") as f:
            if f.read().strip() != digest:
                raise LoginFailed("the CA refused the password")
    else:
        with open(stored, "w", encoding="utf-8") as f:
            f.write(digest)
    _token = "tok-%d-%s" % (os.getpid(), os.urandom(4).hex())
    _journal(ca_dir, "login %s" % _token)
    log.info("logged in to the corporate CA")
    return _token


def _sign(csr, common_name, args_dict, verb):
    global _calls
    ticket = args_dict.get("ticket", "")
    if not re.fullmatch(r"CHG-\d+", ticket):
        raise ValueError("ticket must look like CHG-123, got %r" % ticket)
    ca_dir = _ca(args_dict)
    token = _login(ca_dir, args_dict["password"])
    _calls += 1
    days = str(int(args_dict.get("days", "30")))
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "req.pem"), "w", encoding="utf-8") as f:
            f.write(csr)
        with open(os.path.join(work, "ext.cnf"), "w", encoding="utf-8") as f:
            f.write("basicConstraints=critical,CA:FALSE\n")
        _openssl(
            "x509", "-req", "-in", os.path.join(work, "req.pem"),
            "-CA", os.path.join(ca_dir, "ca.pem"), "-CAkey", os.path.join(ca_dir, "ca.key"),
            "-set_serial", "0x" + os.urandom(16).hex(), "-days", days,
            "-copy_extensions", "copy", "-extfile", os.path.join(work, "ext.cnf"),
            "-out", os.path.join(work, "cert.pem"),
        )
        with open(os.path.join(work, "cert.pem"), encoding="utf-8") as f:
            leaf = f.read()
    with open(os.path.join(ca_dir, "ca.pem"), encoding="utf-8") as f:
        root = f.read()
    _journal(ca_dir, "%s %s token=%s call=%d ticket=%s" % (verb, common_name, token, _calls, ticket))
    print("%s %s for ticket %s (call %d)" % (verb, common_name, ticket, _calls))
    return leaf + root


def certificate_request(csr, common_name, args_dict):
    return _sign(csr, common_name, args_dict, "issued")


def renew_certificate(cert_pem, csr, common_name, args_dict):
    return _sign(csr, common_name, args_dict, "renewed")


def revoke_certificate(cert_pem, reason, args_dict):
    ca_dir = _ca(args_dict)
    _login(ca_dir, args_dict["password"])
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "cert.pem")
        with open(path, "w", encoding="utf-8") as f:
            f.write(cert_pem)
        serial = _openssl("x509", "-noout", "-serial", "-in", path).strip()
    _journal(ca_dir, "revoked %s reason=%s" % (serial, reason))
    log.info("revoked %s (%s)", serial, reason)
