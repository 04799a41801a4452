"""certloop's host for Python-script CA connectors.

One program for both isolation modes: certloop embeds it (``inProcess``) or runs it as
``python3 -I host.py SCRIPT PROFILE`` (``process``), reading one JSON request per line on stdin
and writing one JSON response per line on stdout. The script is imported once and kept loaded
(its module globals survive between calls) until its file's content changes.

Request:  {"op": "issue" | "renew" | "revoke", "csr": PEM, "commonName": str,
           "args": {name: value}, "certificate": PEM, "reason": str}
Response: {"ok": true, "result": PEM | null, "output": [lines]}
          {"ok": false, "error": {"type", "message", "traceback", "retryable", "stage"},
           "output": [lines]}
"""

import contextlib
import hashlib
import importlib.util
import inspect
import io
import json
import logging
import sys
import threading
import traceback

# Exceptions a later retry can cure: the CA was unreachable or slow.
RETRYABLE = (ConnectionError, TimeoutError)


class ScriptError(Exception):
    """A contract violation found by the host (missing function, bad signature)."""


class ScriptFileError(Exception):
    """The script file cannot be read."""


class _Capture(logging.Handler):
    def __init__(self, lines):
        super().__init__(logging.DEBUG)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record):
        try:
            self.lines.append(self.format(record))
        except Exception:  # a broken log record must not fail the request
            self.lines.append("<unformattable log record>")


class Host:
    """Keeps one script module loaded, reloading it when its file changes."""

    def __init__(self, path, profile):
        self.path = path
        self.profile = profile
        self.module = None
        self.digest = None
        self.generation = 0

    def _load(self):
        try:
            with open(self.path, "rb") as f:
                source = f.read()
        except OSError as exc:
            raise ScriptFileError("%s: %s" % (type(exc).__name__, exc.strerror or exc)) from None
        digest = hashlib.sha256(source).hexdigest()
        if self.module is not None and digest == self.digest:
            return self.module
        self.generation += 1
        name = "certloop_script_%s_%d" % (digest[:12], self.generation)
        spec = importlib.util.spec_from_loader(name, loader=None, origin=self.path)
        module = importlib.util.module_from_spec(spec)
        module.__file__ = self.path
        code = compile(source, self.path, "exec")
        exec(code, module.__dict__)
        fn = getattr(module, "certificate_request", None)
        if not callable(fn):
            raise ScriptError(
                "%s defines no certificate_request(csr, common_name, args_dict) function"
                % self.path
            )
        _check_arity(fn, "certificate_request", 3)
        for optional, arity in (("revoke_certificate", 3), ("renew_certificate", 4)):
            other = getattr(module, optional, None)
            if other is not None:
                if not callable(other):
                    raise ScriptError("%s in %s is not a function" % (optional, self.path))
                _check_arity(other, optional, arity)
        self.module, self.digest = module, digest
        return module

    def handle(self, line):
        """Answer one JSON request line with one JSON response line."""
        output = []
        stage = "load"
        try:
            request = json.loads(line)
            with _captured(output):
                module = self._load()
                stage = "call"
                result = self._dispatch(module, request)
            if request.get("op") == "revoke":
                result = None
            elif not isinstance(result, str):
                if isinstance(result, bytes):
                    result = result.decode("utf-8", "replace")
                else:
                    raise ScriptError(
                        "%s returned %s, not a PEM string"
                        % (_function_for(request), "None" if result is None else type(result).__name__)
                    )
            return json.dumps({"ok": True, "result": result, "output": output})
        except BaseException as exc:  # noqa: B902 - report everything, including SystemExit
            if isinstance(exc, KeyboardInterrupt) and getattr(exc, "certloop_timeout", False):
                stage = "timeout"
            return json.dumps(
                {
                    "ok": False,
                    "error": {
                        "type": type(exc).__name__,
                        "message": str(exc),
                        "traceback": "".join(
                            traceback.format_exception(type(exc), exc, exc.__traceback__)
                        ),
                        "retryable": bool(
                            getattr(exc, "retryable", isinstance(exc, RETRYABLE))
                        ),
                        "stage": _stage_of(exc, stage),
                    },
                    "output": output,
                }
            )

    def _dispatch(self, module, request):
        op = request.get("op")
        args = dict(request.get("args") or {})
        if op == "issue":
            return module.certificate_request(request["csr"], request["commonName"], args)
        if op == "renew":
            renew = getattr(module, "renew_certificate", None)
            if renew is None:
                return module.certificate_request(request["csr"], request["commonName"], args)
            return renew(request["certificate"], request["csr"], request["commonName"], args)
        if op == "revoke":
            revoke = getattr(module, "revoke_certificate", None)
            if revoke is None:
                raise NotImplementedError(
                    "revocation is not supported by this connector (the script defines no "
                    "revoke_certificate(cert_pem, reason, args_dict))"
                )
            return revoke(request["certificate"], request["reason"], args)
        raise ScriptError("unknown operation %r" % (op,))


def _stage_of(exc, stage):
    if isinstance(exc, ScriptError):
        return "contract"
    if isinstance(exc, ScriptFileError):
        return "file"
    return stage


def _function_for(request):
    return {"renew": "renew_certificate", "revoke": "revoke_certificate"}.get(
        request.get("op"), "certificate_request"
    )


def _check_arity(fn, name, arity):
    try:
        signature = inspect.signature(fn)
        signature.bind(*range(arity))
    except TypeError:
        raise ScriptError(
            "%s has the wrong signature %s%s; expected %d positional parameters"
            % (name, name, signature, arity)
        ) from None
    except ValueError:
        pass  # builtins without a signature: trust them


_local = threading.local()


class _ThreadStdout(io.TextIOBase):
    """sys.stdout that sends what a script call prints to that call's buffer.

    Calls may run at once on several threads (embedded mode): a process-wide redirect would
    mix their output, so each thread writes to its own buffer, others to the real stdout.
    """

    def __init__(self, fallback):
        super().__init__()
        self.fallback = fallback

    def writable(self):
        return True

    def write(self, text):
        buffer = getattr(_local, "buffer", None)
        if buffer is None:
            return self.fallback.write(text)
        return buffer.write(text)

    def flush(self):
        if getattr(_local, "buffer", None) is None and self.fallback is not None:
            self.fallback.flush()


@contextlib.contextmanager
def _captured(lines):
    """Capture what this thread prints and logs into `lines` while the script runs."""
    if not isinstance(sys.stdout, _ThreadStdout):
        sys.stdout = _ThreadStdout(sys.stdout)
    _local.buffer = io.StringIO()
    handler = _Capture(lines)
    thread = threading.get_ident()
    handler.addFilter(lambda record: record.thread == thread)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        printed = _local.buffer.getvalue().splitlines()
        _local.buffer = None
        lines[:0] = printed


def interrupt(thread_id):
    """Raise a timeout in the thread running a script (embedded mode, after a timeout)."""
    import ctypes

    class CertloopTimeout(KeyboardInterrupt):
        certloop_timeout = True

    return ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(CertloopTimeout)
    )


def _limit_resources(memory_mb):
    try:
        import resource
    except ImportError:  # not on this platform
        return
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main():
    path, profile, memory_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    _limit_resources(memory_mb)
    protocol = sys.stdout
    # Whatever the script writes to stdout outside a call must not corrupt the protocol.
    sys.stdout = sys.stderr
    host = Host(path, profile)
    for line in sys.stdin:
        if not line.strip():
            continue
        protocol.write(host.handle(line) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
