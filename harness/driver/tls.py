"""A throwaway self-signed certificate for h2-tls runs, made with the openssl CLI."""

from __future__ import annotations

import os
import shutil
import subprocess


class TlsSetupError(RuntimeError):
    pass


def make_self_signed(directory: str) -> tuple[str, str]:
    """Writes cert.pem and key.pem (EC P-256, CN=127.0.0.1, 1 day) into directory."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsSetupError("protocol h2-tls needs the openssl CLI to make a throwaway certificate (apt-get install openssl)")
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    argv = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise TlsSetupError(f"openssl could not make a certificate (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return cert, key
