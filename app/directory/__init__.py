"""Sign-in through the province's directory: OpenID Connect and LDAP / Active Directory."""
