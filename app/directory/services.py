"""Sign-in through the province's directory: OpenID Connect (Authlib) and LDAP / AD (ldap3).

Both end in `sign_in_directory_person`: the person the directory vouches for is matched to an
account by DIRECTORY_MATCH_BY (employee code or e-mail) and, when DIRECTORY_UNKNOWN_PEOPLE is
"create", an unknown person gets an account in the agency DIRECTORY_AGENCY_MAP names. The app never
learns or keeps a directory password.
"""
from __future__ import annotations

import logging
import secrets
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import ldap3
from authlib.integrations.flask_client import OAuth
from flask import current_app
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audit import record
from ..auth.services import (AccountError, authenticate, create_user, find_user_by_login, normalise_email,
                             normalise_employee_code, unusable_password_hash)
from ..models import Agency, User, utcnow

log = logging.getLogger(__name__)

#: how each way of matching is named to the person
MATCH_LABELS = {"employee_code": "mã cán bộ", "email": "email"}
SOURCE_LABELS = {"oidc": "cổng đăng nhập của tỉnh", "ldap": "hệ thống thư mục của tỉnh"}
WRONG_LOGIN = "Tên đăng nhập hoặc mật khẩu không đúng."


class DirectoryError(Exception):
    """The directory vouched for a person but the app will not sign them in; the message says why."""


@dataclass(frozen=True)
class DirectoryPerson:
    """What a directory says about the person it has just authenticated."""

    source: str  #: "oidc" or "ldap"
    username: str | None = None
    email: str | None = None
    employee_code: str | None = None
    full_name: str | None = None
    #: the directory's value for the person's agency (DIRECTORY_AGENCY_MAP turns it into a code)
    agency_value: str | None = None


def is_oidc_configured() -> bool:
    config = current_app.config
    return bool(config["OIDC_ISSUER"] and config["OIDC_CLIENT_ID"])


def is_ldap_configured() -> bool:
    return bool(current_app.config["LDAP_URL"])


# -- matching and creating accounts ---------------------------------------------------------------

def find_account(session: Session, person: DirectoryPerson) -> User | None:
    """The account with the person's employee code or e-mail (DIRECTORY_MATCH_BY), or None."""
    if current_app.config["DIRECTORY_MATCH_BY"] == "email":
        if not person.email:
            return None
        return session.scalar(select(User).where(func.lower(User.email) == normalise_email(person.email)))
    code = normalise_employee_code(person.employee_code)
    return session.scalar(select(User).where(User.employee_code == code)) if code else None


def sign_in_directory_person(session: Session, person: DirectoryPerson) -> User:
    """The active account the directory person signs in to, created when the deployment says so.

    Raises DirectoryError (message for the person) when there is none or it is deactivated.
    """
    config = current_app.config
    match_by = config["DIRECTORY_MATCH_BY"]
    label = MATCH_LABELS.get(match_by, match_by)
    value = person.email if match_by == "email" else person.employee_code
    if not (value or "").strip():
        raise DirectoryError(f"{SOURCE_LABELS[person.source].capitalize()} không cho biết {label} của bạn "
                             "nên không tìm được tài khoản. Hãy liên hệ quản trị viên của cơ quan.")
    user = find_account(session, person)
    if user is None:
        if config["DIRECTORY_UNKNOWN_PEOPLE"] != "create":
            raise DirectoryError(f"Chưa có tài khoản nào trong ứng dụng ứng với {label} «{value.strip()}». "
                                 "Hãy liên hệ quản trị viên của cơ quan để được tạo tài khoản.")
        user = create_directory_account(session, person)
    if not user.is_active:
        raise DirectoryError("Tài khoản của bạn trong ứng dụng đã bị vô hiệu hóa. "
                             "Hãy liên hệ quản trị viên của cơ quan.")
    user.last_login_at = utcnow()
    session.flush()
    return user


def create_directory_account(session: Session, person: DirectoryPerson) -> User:
    """A new account for a person the directory knows, in the agency DIRECTORY_AGENCY_MAP gives.

    It has no usable password: the person signs in through the directory only.
    """
    mapping = current_app.config["DIRECTORY_AGENCY_MAP"]
    agency_value = (person.agency_value or "").strip()
    code = mapping.get(agency_value)
    agency = session.scalar(select(Agency).where(Agency.code == code)) if code else None
    if agency is None or not agency.is_active:
        shown = f"«{agency_value}»" if agency_value else "(không ghi)"
        raise DirectoryError(f"Chưa có tài khoản cho bạn, và cơ quan {shown} mà {SOURCE_LABELS[person.source]} "
                             "ghi cho bạn chưa được gắn với cơ quan nào trong ứng dụng. "
                             "Hãy liên hệ quản trị viên của cơ quan.")
    if not person.email:
        raise DirectoryError(f"{SOURCE_LABELS[person.source].capitalize()} không cho biết email của bạn "
                             "nên không tạo được tài khoản. Hãy liên hệ quản trị viên của cơ quan.")
    username = (person.username or person.employee_code or person.email.split("@")[0]).strip().lower()
    try:
        user = create_user(session, username=username, email=person.email,
                           full_name=person.full_name or username, agency=agency,
                           password=secrets.token_urlsafe(32), employee_code=person.employee_code)
    except AccountError as error:
        raise DirectoryError(f"Không tạo được tài khoản cho bạn: {error} "
                             "Hãy liên hệ quản trị viên của cơ quan.") from None
    user.password_hash = unusable_password_hash()
    record(session, None, "user.created_from_directory", user,
           after={"source": person.source, "agency_value": agency_value, "agency": agency.code},
           summary=f"Tạo tài khoản {user.username} khi đăng nhập lần đầu qua {SOURCE_LABELS[person.source]}")
    session.flush()
    return user


# -- the normal sign-in form: LDAP first when configured, then the app's own password -------------

def authenticate_with_password(session: Session, login: str, password: str, *,
                               known_device: bool = False) -> tuple[User | None, str | None]:
    """Sign-in with a username and password: (user, None), or (None, the message to show).

    With LDAP configured a directory person signs in with their directory username and password;
    anyone the directory does not accept falls through to the app's own passwords, which an
    agency may have turned off (the refusal is said only once the password was right).
    """
    directory_down = False
    if is_ldap_configured():
        try:
            person = ldap_authenticate(login, password)
        except DirectoryUnavailable:
            person, directory_down = None, True
        if person is not None:
            try:
                return sign_in_directory_person(session, person), None
            except DirectoryError as error:
                return None, str(error)
    known = find_user_by_login(session, login)
    last_login_at = known.last_login_at if known is not None else None
    user = authenticate(session, login, password, known_device=known_device)
    if user is None:
        if directory_down:
            return None, WRONG_LOGIN + " Hệ thống thư mục của tỉnh hiện không trả lời; vui lòng thử lại sau."
        return None, WRONG_LOGIN
    if not user.agency.local_passwords_allowed:
        user.last_login_at = last_login_at  # the right password, but no sign-in happened
        return None, (f"Cơ quan «{user.agency.name}» không dùng mật khẩu riêng của ứng dụng. "
                      "Hãy đăng nhập bằng tài khoản của tỉnh (tài khoản thư mục hoặc nút đăng nhập một lần).")
    return user, None


def set_local_passwords_allowed(session: Session, agency: Agency, allowed: bool, actor: User | None) -> bool:
    """Turn the app's own passwords on or off for an agency's staff; True when it changed."""
    if agency.local_passwords_allowed == allowed:
        return False
    agency.local_passwords_allowed = allowed
    session.flush()
    record(session, actor, "agency.local_passwords", agency, before={"local_passwords_allowed": not allowed},
           after={"local_passwords_allowed": allowed},
           summary=f"{'Cho phép' if allowed else 'Tắt'} đăng nhập bằng mật khẩu riêng của ứng dụng tại "
                   f"{agency.code}: {agency.name}")
    session.flush()
    return True


# -- LDAP / Active Directory ----------------------------------------------------------------------

class DirectoryUnavailable(Exception):
    """The LDAP server could not be reached or refused the service account."""


def _ldap_server() -> ldap3.Server:
    config = current_app.config
    url = config["LDAP_URL"]
    tls = None
    if url.startswith("ldaps://") or config["LDAP_STARTTLS"]:
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=config["LDAP_CA_FILE"] or None)
    return ldap3.Server(url, use_ssl=url.startswith("ldaps://"), tls=tls, get_info=ldap3.NONE,
                        connect_timeout=config["LDAP_TIMEOUT"])


def _ldap_connection(server: ldap3.Server, dn: str, password: str) -> ldap3.Connection:
    """A connection bound as `dn`; LDAPBindError when the password is wrong."""
    config = current_app.config
    connection = ldap3.Connection(server, dn, password, read_only=True, raise_exceptions=False,
                                  receive_timeout=config["LDAP_TIMEOUT"])
    connection.open()
    # Never send a password in the clear because STARTTLS failed quietly.
    if config["LDAP_STARTTLS"] and not config["LDAP_URL"].startswith("ldaps://") and not connection.start_tls():
        raise DirectoryUnavailable(f"STARTTLS refused: {connection.result}")
    connection.bind()
    return connection


def _ldap_attributes() -> dict[str, str]:
    config = current_app.config
    return {field: config[f"LDAP_ATTR_{field.upper()}"]
            for field in ("username", "email", "name", "employee_code", "agency")}


def ldap_authenticate(username: str, password: str) -> DirectoryPerson | None:
    """The person the LDAP directory authenticates with this username and password, or None.

    With LDAP_BIND_TEMPLATE the person binds directly; otherwise the service account finds their
    entry (LDAP_USER_FILTER) and the person binds as it. Raises DirectoryUnavailable when the
    server cannot be reached.
    """
    config = current_app.config
    username = username.strip()
    # An empty password is an "unauthenticated bind" that many servers accept: never let it through.
    if not username or not password:
        return None
    attributes = _ldap_attributes()
    search_filter = config["LDAP_USER_FILTER"].format(username=escape_filter_chars(username))
    try:
        server = _ldap_server()
        if config["LDAP_BIND_TEMPLATE"]:
            dn = config["LDAP_BIND_TEMPLATE"].format(username=escape_rdn(username))
            connection = _ldap_connection(server, dn, password)
            if not connection.bound:
                return None
            # A DN template names the entry; an AD "{username}@domain" one is found by the filter.
            if "=" in dn:
                connection.search(dn, "(objectClass=*)", search_scope=ldap3.BASE,
                                  attributes=list(attributes.values()))
            else:
                connection.search(config["LDAP_BASE_DN"], search_filter, attributes=list(attributes.values()),
                                  size_limit=2)
        else:
            service = _ldap_connection(server, config["LDAP_SERVICE_DN"], config["LDAP_SERVICE_PASSWORD"])
            if not service.bound:
                log.error("LDAP service account %s was refused: %s", config["LDAP_SERVICE_DN"], service.result)
                raise DirectoryUnavailable(str(service.result))
            service.search(config["LDAP_BASE_DN"], search_filter, attributes=list(attributes.values()),
                           size_limit=2)
            entries = service.entries
            service.unbind()
            if len(entries) != 1:
                return None
            connection = _ldap_connection(server, entries[0].entry_dn, password)
            if not connection.bound:
                return None
            connection.search(entries[0].entry_dn, "(objectClass=*)", search_scope=ldap3.BASE,
                              attributes=list(attributes.values()))
        entries = connection.entries
        connection.unbind()
    except LDAPException as error:
        log.error("LDAP server %s did not answer: %s", urlsplit(config["LDAP_URL"]).netloc, error)
        raise DirectoryUnavailable(str(error)) from error
    if len(entries) != 1:
        return None
    entry = entries[0]

    def value(field: str) -> str | None:
        name = attributes[field]
        if name not in entry:
            return None
        found = entry[name].value
        if isinstance(found, list):
            found = found[0] if found else None
        return str(found).strip() if found not in (None, "") else None

    return DirectoryPerson(source="ldap", username=value("username") or username, email=value("email"),
                           employee_code=value("employee_code"), full_name=value("name"),
                           agency_value=value("agency"))


# -- OpenID Connect -------------------------------------------------------------------------------

def oidc_client():
    """Authlib's client for the configured provider, made once per app and configuration."""
    app = current_app._get_current_object()
    config = app.config
    key = (config["OIDC_ISSUER"], config["OIDC_CLIENT_ID"], config["OIDC_CLIENT_SECRET"], config["OIDC_SCOPE"])
    cached = app.extensions.get("directory_oidc")
    if cached is not None and cached[0] == key:
        return cached[1]
    scope = config["OIDC_SCOPE"]
    if "openid" not in scope.split():
        raise RuntimeError("OIDC_SCOPE must include 'openid' (the ID token and its nonce are checked)")
    # overwrite=True: these settings win over any "PROVINCE_*" keys Authlib would otherwise read.
    oauth = OAuth(app)
    client = oauth.register(
        "province", overwrite=True, client_id=config["OIDC_CLIENT_ID"], client_secret=config["OIDC_CLIENT_SECRET"],
        server_metadata_url=config["OIDC_ISSUER"].rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": scope, "code_challenge_method": "S256", "timeout": 10})
    app.extensions["directory_oidc"] = (key, client)
    return client


def provider_origins() -> set[str]:
    """scheme://host[:port] of the issuer and, once discovery has been read, of the endpoints the
    browser is sent to (a provider may serve them from another host)."""
    urls = [current_app.config["OIDC_ISSUER"]]
    cached = current_app.extensions.get("directory_oidc")
    if cached is not None:
        metadata = cached[1].server_metadata or {}
        urls += [metadata.get("authorization_endpoint"), metadata.get("end_session_endpoint")]
    origins = set()
    for url in filter(None, urls):
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def person_from_claims(claims: dict) -> DirectoryPerson:
    """The person an ID token and the userinfo endpoint describe, through the OIDC_CLAIM_* names."""
    config = current_app.config

    def claim(setting: str) -> str | None:
        found = claims.get(config[setting])
        if isinstance(found, list):
            found = found[0] if found else None
        return str(found).strip() if found not in (None, "") else None

    return DirectoryPerson(source="oidc", username=claim("OIDC_CLAIM_USERNAME"), email=claim("OIDC_CLAIM_EMAIL"),
                           employee_code=claim("OIDC_CLAIM_EMPLOYEE_CODE"), full_name=claim("OIDC_CLAIM_NAME"),
                           agency_value=claim("OIDC_CLAIM_AGENCY"))


def oidc_claims(client) -> tuple[dict, str]:
    """Finish the redirect: check state, exchange the code (with the PKCE verifier), check the ID
    token (signature, issuer, audience, nonce); returns (claims, id_token).

    Raises authlib's OAuthError / a JOSE error / requests' errors when anything does not hold.
    """
    token = client.authorize_access_token()
    claims = dict(token["userinfo"])
    # Providers put only the minimum in the ID token; the rest comes from the userinfo endpoint,
    # trusted only for the same subject.
    extra = client.userinfo(token=token)
    if extra.get("sub") == claims.get("sub"):
        claims.update({key: value for key, value in extra.items() if key not in claims})
    return claims, token["id_token"]


def oidc_logout_url(client, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The provider's end_session_endpoint for RP-initiated logout, or None when it has none."""
    if not client.load_server_metadata().get("end_session_endpoint"):
        return None
    return client.create_logout_url(post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=id_token,
                                    client_id=client.client_id)["url"]



# -- checking a deployment's settings -------------------------------------------------------------

def check_configuration(session: Session) -> list[tuple[bool, str]]:
    """Each setting of directory sign-in checked against the real servers: (ok, what was found)."""
    config = current_app.config
    results = []
    match_by, unknown = config["DIRECTORY_MATCH_BY"], config["DIRECTORY_UNKNOWN_PEOPLE"]
    results.append((match_by in MATCH_LABELS, f"DIRECTORY_MATCH_BY = {match_by} (employee_code hoặc email)"))
    results.append((unknown in ("refuse", "create"), f"DIRECTORY_UNKNOWN_PEOPLE = {unknown} (refuse hoặc create)"))
    if unknown == "create":
        codes = set(config["DIRECTORY_AGENCY_MAP"].values())
        known = set(session.scalars(select(Agency.code).where(Agency.code.in_(codes), Agency.is_active)))
        missing = sorted(codes - known)
        results.append((bool(codes) and not missing,
                        f"DIRECTORY_AGENCY_MAP: {len(codes)} mã cơ quan"
                        + (f"; không có (hoặc đã hợp nhất): {', '.join(missing)}" if missing else "")))
    if is_oidc_configured():
        try:
            metadata = oidc_client().load_server_metadata()
        except Exception as error:  # noqa: BLE001 (any failure is reported to the administrator)
            results.append((False, f"OpenID Connect: không đọc được cấu hình của {config['OIDC_ISSUER']}: {error}"))
        else:
            same_issuer = metadata.get("issuer") == config["OIDC_ISSUER"]
            results.append((same_issuer and "S256" in metadata.get("code_challenge_methods_supported", ["S256"]),
                            f"OpenID Connect: issuer {metadata.get('issuer')}"
                            + ("" if same_issuer else f" (khác OIDC_ISSUER = {config['OIDC_ISSUER']})")
                            + ("; có end_session_endpoint (đăng xuất cả ở cổng)" if metadata.get("end_session_endpoint")
                               else "; không có end_session_endpoint (chỉ đăng xuất khỏi ứng dụng)")))
    else:
        results.append((True, "OpenID Connect: chưa cấu hình (OIDC_ISSUER, OIDC_CLIENT_ID)"))
    if is_ldap_configured():
        if config["LDAP_BIND_TEMPLATE"]:
            results.append((True, f"LDAP: đăng nhập thẳng bằng {config['LDAP_BIND_TEMPLATE']} "
                                  "(thử với --username để kiểm tra một người)"))
        else:
            try:
                service = _ldap_connection(_ldap_server(), config["LDAP_SERVICE_DN"], config["LDAP_SERVICE_PASSWORD"])
                ok = service.bound
                service.unbind()
            except (LDAPException, DirectoryUnavailable) as error:
                results.append((False, f"LDAP: không kết nối được {config['LDAP_URL']}: {error}"))
            else:
                results.append((ok, f"LDAP: tài khoản dịch vụ {config['LDAP_SERVICE_DN']} "
                                    + ("đăng nhập được" if ok else "bị từ chối")))
    else:
        results.append((True, "LDAP: chưa cấu hình (LDAP_URL)"))
    return results
