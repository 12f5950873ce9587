"""A small certificate authority for the fleet: one X.509 client certificate per device
(CN = device id = MQTT username), one for the hub, one server certificate for the broker, and a CRL.

Layout of the CA folder (keep it off the repository; ``0700``)::

    ca.key  ca.crt  crl.pem  index.json  issued/<name>.crt  issued/<name>.key
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import logging
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

Kind = Literal["device", "hub", "server"]
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
HUB_IDENTITY = "hub"  # the hub's MQTT username; reserved, never a device id
CA_DIR_ENV = "KOMMUNE_CA_DIR"
DEFAULT_DAYS = {"device": 825, "hub": 825, "server": 825}
CA_DAYS = 3650
CRL_DAYS = 30


class PKIError(RuntimeError):
    """A CA operation cannot be done (missing CA, unknown or duplicate name)."""


@dataclass
class IssuedCert:
    """One line of the CA's index."""

    name: str
    kind: Kind
    serial: int
    not_after: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: small, fast on a Raspberry Pi, supported by every OpenSSL Mosquitto links against.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write beside the target and rename: a broker reloading on SIGHUP never reads half a file
    (Mosquitto exits when its CRL does not parse)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class CertificateAuthority:
    """File-backed CA. ``init`` once, then ``issue`` / ``revoke``; every change rewrites ``crl.pem``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # -- paths ------------------------------------------------------------------------------------
    @property
    def ca_cert_path(self) -> Path:
        return self.root / "ca.crt"

    @property
    def crl_path(self) -> Path:
        return self.root / "crl.pem"

    def cert_path(self, name: str) -> Path:
        return self.root / "issued" / f"{name}.crt"

    def key_path(self, name: str) -> Path:
        return self.root / "issued" / f"{name}.key"

    # -- state ------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.ca_cert_path.exists() and (self.root / "ca.key").exists()

    def index(self) -> list[IssuedCert]:
        path = self.root / "index.json"
        if not path.exists():
            return []
        return [IssuedCert(**row) for row in json.loads(path.read_text())]

    def _save_index(self, rows: list[IssuedCert]) -> None:
        _write_atomic(self.root / "index.json", (json.dumps([asdict(r) for r in rows], indent=1) + "\n").encode())

    def _load(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        if not self.exists():
            raise PKIError(f"no CA in {self.root}; run 'hub-pki init' first")
        key = serialization.load_pem_private_key((self.root / "ca.key").read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key, x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())

    # -- operations -------------------------------------------------------------------------------
    def init(self, organisation: str = "kommune-edge", days: int = CA_DAYS) -> Path:
        """Create the CA key, its self-signed certificate and an empty CRL."""
        if self.exists():
            raise PKIError(f"a CA already exists in {self.root}")
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        key = _new_key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} fleet CA"),
            ]
        )
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_atomic(self.root / "ca.key", _key_pem(key), 0o600)
        _write_atomic(self.ca_cert_path, cert.public_bytes(serialization.Encoding.PEM))
        self._save_index([])
        self.write_crl()
        log.info("CA created", extra={"ca_dir": str(self.root)})
        return self.ca_cert_path

    def issue(
        self,
        name: str,
        kind: Kind = "device",
        *,
        days: int | None = None,
        hostnames: tuple[str, ...] = (),
        replace: bool = False,
    ) -> tuple[Path, Path]:
        """Issue a key and certificate for ``name``; returns (cert, key) paths.

        ``replace`` re-issues for a name that already has an active certificate
        (rotation or a replaced unit) and revokes the old one.
        """
        if not NAME_RE.match(name):
            raise PKIError(f"{name!r} is not a valid name (lower-case letters, digits, '-', '_', '.')")
        if kind == "device" and name == HUB_IDENTITY:
            raise PKIError(f"{HUB_IDENTITY!r} is reserved for the hub's identity")
        rows = self.index()
        active = [r for r in rows if r.name == name and r.active]
        if active and not replace:
            raise PKIError(f"{name} already has an active certificate (serial {active[0].serial}); use --replace")
        ca_key, ca_cert = self._load()
        key = _new_key()
        now = _now()
        not_after = now + dt.timedelta(days=days or DEFAULT_DAYS[kind])
        usage = ExtendedKeyUsageOID.SERVER_AUTH if kind == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if kind == "server":
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_san_entries(hostnames or (name,))), critical=False
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        _write_atomic(self.key_path(name), _key_pem(key), 0o600)
        _write_atomic(self.cert_path(name), cert.public_bytes(serialization.Encoding.PEM))
        stamp = now.isoformat(timespec="seconds")
        for row in active:
            row.revoked_at = stamp
        rows.append(IssuedCert(name, kind, cert.serial_number, not_after.isoformat(timespec="seconds")))
        self._save_index(rows)
        self.write_crl()
        log.info("certificate issued", extra={"cert_name": name, "kind": kind, "serial": cert.serial_number})
        return self.cert_path(name), self.key_path(name)

    def revoke(self, name: str) -> list[int]:
        """Revoke every active certificate of ``name``; returns the revoked serials."""
        rows = self.index()
        hits = [r for r in rows if r.name == name and r.active]
        if not hits:
            raise PKIError(f"{name} has no active certificate")
        stamp = _now().isoformat(timespec="seconds")
        for row in hits:
            row.revoked_at = stamp
        self._save_index(rows)
        self.write_crl()
        log.info("certificate revoked", extra={"cert_name": name, "serials": [r.serial for r in hits]})
        return [r.serial for r in hits]

    def write_crl(self, days: int = CRL_DAYS) -> Path:
        """(Re)write ``crl.pem`` listing every revoked serial; re-run before ``days`` pass."""
        ca_key, ca_cert = self._load()
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + dt.timedelta(days=days))
        )
        for row in self.index():
            if row.revoked_at:
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder()
                    .serial_number(row.serial)
                    .revocation_date(dt.datetime.fromisoformat(row.revoked_at))
                    .build()
                )
        crl = builder.sign(ca_key, hashes.SHA256())
        _write_atomic(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
        return self.crl_path


def _san_entries(hostnames: tuple[str, ...]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hub-pki", description="Fleet CA: device, hub and broker certificates and the revocation list."
    )
    parser.add_argument(
        "--ca-dir",
        type=Path,
        default=Path(os.environ.get(CA_DIR_ENV, "var/pki")),
        help=f"CA folder (default: ${CA_DIR_ENV} or var/pki); keep it out of the repository",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the CA key, certificate and an empty CRL")
    init.add_argument("--organisation", default="kommune-edge")
    dev = sub.add_parser("issue-device", help="issue a client certificate for a device (CN = device id)")
    dev.add_argument("device_id")
    dev.add_argument("--replace", action="store_true", help="re-issue and revoke the current certificate")
    dev.add_argument("--days", type=int, default=None)
    hub = sub.add_parser("issue-hub", help=f"issue the hub's client certificate (CN = {HUB_IDENTITY})")
    hub.add_argument("--replace", action="store_true")
    srv = sub.add_parser("issue-server", help="issue the broker's server certificate")
    srv.add_argument("hostnames", nargs="+", help="DNS names or IP addresses clients connect to; first is the CN")
    srv.add_argument("--replace", action="store_true")
    rev = sub.add_parser("revoke", help="revoke a device's (or the hub's) certificate and rewrite the CRL")
    rev.add_argument("name")
    sub.add_parser("crl", help="rewrite the CRL (run at least every few weeks: it expires)")
    sub.add_parser("list", help="list issued certificates")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    ca = CertificateAuthority(args.ca_dir)
    try:
        if args.command == "init":
            print(f"CA certificate: {ca.init(args.organisation)}")
        elif args.command == "issue-device":
            cert, key = ca.issue(args.device_id, "device", days=args.days, replace=args.replace)
            print(f"certificate: {cert}\nkey:         {key}")
        elif args.command == "issue-hub":
            cert, key = ca.issue(HUB_IDENTITY, "hub", replace=args.replace)
            print(f"certificate: {cert}\nkey:         {key}")
        elif args.command == "issue-server":
            cert, key = ca.issue(args.hostnames[0], "server", hostnames=tuple(args.hostnames), replace=args.replace)
            print(f"certificate: {cert}\nkey:         {key}")
        elif args.command == "revoke":
            serials = ca.revoke(args.name)
            print(f"revoked {args.name} (serials {serials}); CRL: {ca.crl_path} — reload the broker")
        elif args.command == "crl":
            print(f"CRL: {ca.write_crl()}")
        else:
            for row in ca.index():
                state = "active" if row.active else f"revoked {row.revoked_at}"
                print(f"{row.name:32} {row.kind:7} serial={row.serial:x} until={row.not_after} {state}")
    except PKIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
