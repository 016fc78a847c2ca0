"""The project's error hierarchy, mapped to HTTP status and CLI exit code in one place.

Every message says what was wrong, where (file, row, field, parameter) and what to do.
"""

from __future__ import annotations

from typing import Any


class IocgisError(Exception):
    """Base of every error the project raises on purpose."""

    http_status = 500
    exit_code = 1
    code = "InternalError"
    # Seconds after which a retry may succeed; sent as ``Retry-After`` when set (503, 429).
    retry_after_s: int | None = None

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint
        self.details = details or {}

    def __str__(self) -> str:
        parts = [self.message]
        if self.where:
            parts.append(f"(at {self.where})")
        if self.hint:
            parts.append(f"- {self.hint}")
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "description": str(self)}
        if self.where:
            body["where"] = self.where
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = self.details
        return body


class ConfigError(IocgisError):
    """The layer registry or settings are wrong."""

    code = "ConfigurationError"
    exit_code = 3


class DatabaseError(IocgisError):
    """The database cannot be reached or set up."""

    http_status = 503
    code = "DatabaseUnavailable"
    retry_after_s = 5  # an outage: a retry in a few seconds may succeed (no 500, no hang)
    exit_code = 4


class InvalidInput(IocgisError):
    """A request parameter or an input file is wrong; the caller can fix it."""

    http_status = 400
    code = "InvalidParameterValue"
    exit_code = 2


class NotFound(IocgisError):
    http_status = 404
    code = "NotFound"
    exit_code = 2


class Gone(IocgisError):
    """What was asked for existed once and is no longer kept (e.g. an older data version)."""

    http_status = 410
    code = "Gone"
    exit_code = 2


class Unauthorized(IocgisError):
    http_status = 401
    code = "Unauthorized"
    exit_code = 5


class Forbidden(IocgisError):
    http_status = 403
    code = "Forbidden"
    exit_code = 5


class PayloadTooLarge(IocgisError):
    http_status = 413
    code = "PayloadTooLarge"
    exit_code = 2


class TooManyRequests(IocgisError):
    http_status = 429
    code = "TooManyRequests"
    exit_code = 2


class InternalError(IocgisError):
    """A defect: logged with its traceback, answered without one."""

    http_status = 500
    code = "InternalError"
    exit_code = 1

    def __init__(self) -> None:
        super().__init__("the server failed to answer; the error is logged")


class TemporarilyUnavailable(IocgisError):
    """The request was sound but the server could not answer it in time (a statement over its
    time limit, a busy resource); the same request may succeed later."""

    http_status = 503
    code = "TemporarilyUnavailable"
    exit_code = 4

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None,
                 details: dict[str, Any] | None = None, retry_after_s: int = 30) -> None:
        super().__init__(message, where=where, hint=hint, details=details)
        self.retry_after_s = max(1, int(retry_after_s))


class ImportFailed(IocgisError):
    """An import was aborted; the live layer is unchanged."""

    http_status = 422
    code = "ImportFailed"
    exit_code = 6
