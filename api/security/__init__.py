"""The HTTP side of security: hardening and authentication middleware (``http``), the account,
token and review routes (``routes``) and their OpenAPI paths (``openapi``). The account and session
service they call is the core package ``iocgis.security``; PostgreSQL roles are ``iocgis.roles``."""
