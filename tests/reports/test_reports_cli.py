"""``iocgis reports`` as a process: generate the ad-hoc flood report for a commune as an
account, regenerate it identically from its record, and print the systemd timers."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from iocgis.reports import cli as reports_cli

from ..security.security_helpers import cli
from .helpers import sheet_rows, workbook
from .reports_fixtures import PERIOD


def test_run_regenerate_and_schedule(reports_db_url: str, accounts, tmp_path: Path) -> None:  # noqa: ANN001
    env = {"IOCGIS_REPORTS_DIR": str(tmp_path / "store")}
    user = accounts["analyst"].name
    done = cli(reports_db_url, "reports", "run", "ngap_lut_xa", "--period", PERIOD, "--area",
               "26041", "--user", user, "--out", str(tmp_path / "out"), "--json", env=env)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["generated_by"] == user and record["area"] == "26041"
    assert set(record["outputs"]) == {"pdf", "xlsx"}
    (xlsx,) = (tmp_path / "out").glob("*.xlsx")
    shelters = sheet_rows(workbook(xlsx.read_bytes()), "Điểm sơ tán")
    assert [(r[0], r[1]) for r in shelters] == [(1, 100)]  # one shelter, 100 people
    again = cli(reports_db_url, "reports", "regenerate", str(record["id"]), "--user", user,
                env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["identical"] is True
    timers = CliRunner().invoke(reports_cli.app, ["schedule", "--user", user])
    assert timers.exit_code == 0, timers.output
    assert "OnCalendar=*-01,04,07,10-05 06:00:00" in timers.output
    assert f"reports run kinh_te_xa_hoi_quy --user {user}" in timers.output
    assert "van_hanh_ioc" in timers.output and "ngap_lut_xa" not in timers.output
