"""The request kit: what every HTTP surface uses instead of its own copy.

- ``responses.UnicodeJSON`` / ``responses.dumps``: JSON with Vietnamese unescaped;
- ``urls.public_base_url``: the URL clients reach the server at (the configured public URL
  behind a proxy, else the request's scheme and a well-formed Host);
- ``values``: true/false, whole numbers, a value in a registry field's type, NFC text, page caps;
- ``pages.html_page`` / ``pages.page_file``: the project's HTML pages and their files;
- ``parts.app_part``: a capability's context or service, built once per application;
- the statement runner is ``iocgis.access.database.Reader`` (``request.app.state.iocgis.reader``):
  the caller's access plan applied by PostgreSQL, one time limit (503 + Retry-After).
"""
