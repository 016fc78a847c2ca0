"""Security of a level-3 information system: accounts, logins, tokens, API keys, the audit
trail, the HTTP hardening and the PostgreSQL roles that give QGIS the same rules.

``iocgis.access`` stays the one enforcement point for what a caller may see; this package
decides who the caller is and keeps the record of what they did.
"""
