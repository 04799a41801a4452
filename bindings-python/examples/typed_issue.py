"""Issue a certificate and write it out: the README example, checked with `mypy --strict`."""

from __future__ import annotations

import sys
from pathlib import Path

import certloop


def main(state: str, out: str) -> int:
    cl = certloop.Certloop.open(state)
    cl.init_default()
    try:
        issued = cl.issue({"attributes": {"commonName": "app.example.internal", "ttl": "30d",
                                          "altNames": [{"type": "DNS", "value": "app.example.internal"}]}})
    except certloop.PolicyViolation as refused:
        for violation in refused.violations:
            print(f"{violation.field}: {violation.message}", file=sys.stderr)
        return 3
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    (target / "cert.pem").write_text(issued.certificate + issued.certificate_chain)
    if issued.private_key is not None:
        key = target / "key.pem"
        key.touch(mode=0o600)
        key.write_text(issued.private_key)
    record = cl.show(issued.certificate_id)
    days: int = (record.not_after - record.not_before).days
    print(f"{record.common_name} serial {record.serial_number}, valid {days} days")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
