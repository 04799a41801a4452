"""Signs the CSR's key, but for another name."""
import subprocess
import tempfile


def certificate_request(csr, common_name, args_dict):
    with tempfile.TemporaryDirectory() as work:
        with open(work + "/req.pem", "w") as f:
            f.write(csr)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "10", "-subj", "/CN=ca"],
            cwd=work, check=True, capture_output=True,
        )
        subprocess.run(
            ["openssl", "x509", "-req", "-in", "req.pem", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-days", "10", "-subj", "/CN=evil.example", "-out", "c.pem"],
            cwd=work, check=True, capture_output=True,
        )
        with open(work + "/c.pem") as f:
            return f.read()
