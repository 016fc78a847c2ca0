"""The virus-scan hook: every upload is scanned before it is stored.

No scanner configured: nothing is run (the hook passes). With ``IOCGIS_PLANNING_SCAN_COMMAND``
(an argument list, ``{path}`` replaced by the file), exit 0 is clean, 1 is infected (the
upload is refused and deleted), anything else is a scanner failure (503: retry later).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from iocgis.errors import IocgisError, TemporarilyUnavailable


class InfectedFile(IocgisError):
    http_status = 422
    code = "InfectedFile"
    exit_code = 6


async def scan(path: Path, command: list[str], timeout_s: float, shown: str) -> None:
    """Raise InfectedFile or TemporarilyUnavailable; return when the file is clean."""
    if not command:
        return
    argv = [part.replace("{path}", str(path)) for part in command]
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except (TimeoutError, OSError) as exc:
        raise TemporarilyUnavailable(f"the virus scanner did not answer for {shown}: {exc}",
                                     where="scanner", hint="retry the upload later") from None
    if process.returncode == 0:
        return
    said = output.decode("utf-8", "replace").strip().replace(str(path), shown)[:300]
    if process.returncode == 1:
        raise InfectedFile(f"the virus scanner refused {shown}: {said or 'infected'}",
                           where="file", hint="clean the file and upload it again")
    raise TemporarilyUnavailable(f"the virus scanner failed on {shown} "
                                 f"(exit {process.returncode}): {said}", where="scanner",
                                 hint="retry the upload later; the operator can see the log")
