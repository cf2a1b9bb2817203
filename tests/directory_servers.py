"""Real directory servers for the sign-in tests: an OpenID Provider (npm `oidc-provider` run by
Node) and OpenLDAP (Debian `slapd`), each a fresh instance on a free loopback port.

The fixtures in conftest.py call these; when a server cannot start they fail the test loudly,
never skip it.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OIDC_DIR = HERE / "oidc"
LDAP_LDIF = HERE / "ldap" / "people.ldif"
SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"

#: the app's client at the test provider; "native" lets a loopback redirect use any port (RFC 8252),
#: so the Flask test client (http://localhost) and the browser tests' live server both fit
OIDC_CLIENT_ID = "hocmxh"
OIDC_CLIENT_SECRET = "bi-mat-cua-ung-dung-thu"
OIDC_CLIENT = {
    "client_id": OIDC_CLIENT_ID, "client_secret": OIDC_CLIENT_SECRET, "application_type": "native",
    "redirect_uris": ["http://localhost/directory/oidc/callback",
                      "http://127.0.0.1/directory/oidc/callback"],
    "post_logout_redirect_uris": ["http://localhost/auth/login", "http://127.0.0.1/auth/login"],
    "grant_types": ["authorization_code"], "response_types": ["code"],
    "token_endpoint_auth_method": "client_secret_basic",
}
#: the people of the invented province at the provider; the dev login form's "login" is the key
OIDC_ACCOUNTS = {
    "nv-an": {"email": "an.nv@tinhmau.example", "email_verified": True, "name": "Nguyễn Văn An",
              "preferred_username": "an.nv", "employee_code": "OP001", "agency": "so-y-te"},
    "nv-hoa": {"email": "hoa.dt@tinhmau.example", "email_verified": True, "name": "Đỗ Thị Hoa",
               "preferred_username": "hoa.dt", "employee_code": "OP002", "agency": "so-noi-vu"},
    "nv-khanh": {"email": "khanh.vq@tinhmau.example", "email_verified": True, "name": "Vũ Quốc Khánh",
                 "preferred_username": "khanh.vq", "employee_code": "OP003", "agency": "phong-khong-co"},
    "nv-minh": {"email": "minh.hd@tinhmau.example", "email_verified": True, "name": "Hoàng Đức Minh",
                "preferred_username": "minh.hd", "employee_code": "OP004", "agency": "so-y-te"},
}

LDAP_BASE_DN = "dc=tinhmau,dc=example"
LDAP_SERVICE_DN = "cn=hocmxh,ou=services,dc=tinhmau,dc=example"
LDAP_SERVICE_PASSWORD = "dich-vu-tra-cuu"
LDAP_PASSWORDS = {"lan.tt": "mat-khau-lan-01", "binh.lv": "mat-khau-binh-02", "cuc.pt": "mat-khau-cuc-03"}


class ServerDidNotStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, name: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(f"{name} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    process.kill()
    raise ServerDidNotStart(f"{name} did not listen on 127.0.0.1:{port} within {timeout} s:\n"
                            f"{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def openid_provider(workdir: Path, accounts: dict | None = None, code_ttl: int = 60):
    """Run tests/oidc/provider.js; yields its issuer URL (http://127.0.0.1:<port>).

    `code_ttl`: seconds an authorization code stays valid at the provider.
    """
    node = shutil.which("node")
    if node is None:
        raise ServerDidNotStart("`node` is missing: install Debian's nodejs/npm (make test does)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if tuple(int(part) for part in version.lstrip("v").split(".")[:2]) < (20, 18):
        raise ServerDidNotStart(f"oidc-provider 9 needs Node 20.18 or later (URL.parse); this is {version}")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        raise ServerDidNotStart("oidc-provider is missing: run `npm ci --prefix tests/oidc` (make test does)")
    port = free_port()
    settings = workdir / "oidc-settings.json"
    settings.write_text(json.dumps({"clients": [OIDC_CLIENT], "accounts": accounts or OIDC_ACCOUNTS,
                                    "codeTtl": code_ttl}),
                        encoding="utf-8")
    log = workdir / "oidc-provider.log"
    with log.open("wb") as out:
        process = subprocess.Popen([node, str(OIDC_DIR / "provider.js"), str(port), str(settings)],
                                   cwd=OIDC_DIR, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, "oidc-provider", log)
        issuer = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as reply:
            assert json.load(reply)["issuer"] == issuer
        yield issuer
    finally:
        _stop(process)


SLAPD_CONF = """\
# A throwaway OpenLDAP for the tests, generated by tests/directory_servers.py.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
TLSCertificateFile {dir}/server.crt
TLSCertificateKeyFile {dir}/server.key
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
database mdb
suffix "{base}"
rootdn "cn=admin,{base}"
rootpw not-used-by-the-app
directory {dir}/data
maxsize 10485760
# Passwords are only ever compared by a bind; the service account and each person read entries.
access to attrs=userPassword
  by self read
  by anonymous auth
  by * none
access to *
  by dn.exact="{service}" read
  by users read
  by * none
"""


def self_signed_certificate(workdir: Path) -> Path:
    """A certificate for 127.0.0.1 (its own CA) and its key, for STARTTLS and LDAPS."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tỉnh Mẫu (thử nghiệm)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    crt = workdir / "server.crt"
    crt.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (workdir / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return crt


@dataclass(frozen=True)
class LdapServer:
    url: str  #: ldap://127.0.0.1:<port> (STARTTLS offered)
    ldaps_url: str  #: ldaps://127.0.0.1:<port>
    ca_file: str  #: the self-signed certificate both present


@contextmanager
def ldap_server(workdir: Path):
    """A fresh slapd in `workdir` loaded with tests/ldap/people.ldif, plain (with STARTTLS) and LDAPS."""
    for program in (SLAPD, SLAPADD):
        if not Path(program).exists():
            raise ServerDidNotStart(f"{program} is missing: install Debian's slapd (make test does)")
    (workdir / "data").mkdir(parents=True)
    ca_file = self_signed_certificate(workdir)
    conf = workdir / "slapd.conf"
    conf.write_text(SLAPD_CONF.format(dir=workdir, base=LDAP_BASE_DN, service=LDAP_SERVICE_DN))
    loaded = subprocess.run([SLAPADD, "-f", str(conf), "-l", str(LDAP_LDIF)], capture_output=True, text=True)
    if loaded.returncode != 0:
        raise ServerDidNotStart(f"slapadd failed:\n{loaded.stdout}{loaded.stderr}")
    port, tls_port = free_port(), free_port()
    url, ldaps_url = f"ldap://127.0.0.1:{port}", f"ldaps://127.0.0.1:{tls_port}"
    log = workdir / "slapd.log"
    with log.open("wb") as out:
        # -d 0: stay in the foreground (so the fixture owns the process) and log nothing extra
        process = subprocess.Popen([SLAPD, "-f", str(conf), "-h", f"{url}/ {ldaps_url}/", "-d", "0"],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, "slapd", log)
        _wait_for_port(tls_port, process, "slapd (LDAPS)", log)
        yield LdapServer(url=url, ldaps_url=ldaps_url, ca_file=str(ca_file))
    finally:
        _stop(process)
