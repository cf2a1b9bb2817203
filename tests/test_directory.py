"""Sign-in through the province's directory: OpenID Connect and LDAP, against real servers."""
from __future__ import annotations

import ldap3
import requests

from directory_servers import LDAP_BASE_DN, LDAP_SERVICE_DN, LDAP_SERVICE_PASSWORD


def test_the_test_servers_answer(openid_provider, ldap_server):
    metadata = requests.get(f"{openid_provider}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == openid_provider
    assert metadata["end_session_endpoint"].startswith(openid_provider)
    connection = ldap3.Connection(ldap3.Server(ldap_server), LDAP_SERVICE_DN, LDAP_SERVICE_PASSWORD,
                                  auto_bind=True)
    connection.search(LDAP_BASE_DN, "(uid=lan.tt)", attributes=["cn"])
    assert [entry.cn.value for entry in connection.entries] == ["Trần Thị Lan"]
