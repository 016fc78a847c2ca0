"""Time-based one-time passwords (RFC 6238): enrolment, verification, no replay."""

from __future__ import annotations

import time

import pyotp

STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def matching_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The time step the code belongs to (one step of clock drift each way), else None."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    now = time.time() if at is None else at
    totp = pyotp.TOTP(secret)
    step = int(now // STEP_SECONDS)
    for candidate in (step, step - 1, step + 1):
        if pyotp.utils.strings_equal(totp.at(candidate * STEP_SECONDS), code):
            return candidate
    return None


def verify(secret: str, code: str, last_step: int | None, *, at: float | None = None) -> int | None:
    """The accepted step, or None; a code of a step already used is refused (no replay)."""
    step = matching_step(secret, code, at=at)
    if step is None or (last_step is not None and step <= last_step):
        return None
    return step
