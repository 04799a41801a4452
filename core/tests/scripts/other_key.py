"""Returns a certificate with the right name for a key of its own, not the CSR's."""
import subprocess
import tempfile


def certificate_request(csr, common_name, args_dict):
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "10",
             "-subj", "/CN=" + common_name, "-addext", "subjectAltName=DNS:" + common_name],
            cwd=work, check=True, capture_output=True,
        )
        with open(work + "/c.pem") as f:
            return f.read()
