"""Security of a level-3 information system, the core service: accounts, logins, sessions and
tokens, API keys, login throttling, account reviews and the audit trail. Its HTTP middleware and
routes are ``iocgis.api.security``; the PostgreSQL roles that give QGIS the same rules, ``iocgis.roles``.

``iocgis.access`` stays the one enforcement point for what a caller may see; this package
decides who the caller is and keeps the record of what they did.
"""
