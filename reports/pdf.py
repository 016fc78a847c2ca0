"""The report as PDF: HTML from ``templates/report.html`` rendered by WeasyPrint with the
system's Noto fonts; a cover with the table of contents (page numbers by ``target-counter``),
page numbers, bookmarks per section. The same report gives the same bytes: the creation date
is the record's, nothing else in the file depends on the clock."""

from __future__ import annotations

import base64
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from iocgis.planning_docs.sheet import number
from iocgis.reports.blocks import Column
from iocgis.reports.document import Report
from iocgis.reports.sections.indicators import STATUS

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html"]))
    return env.get_template("report.html")


def _cell(column: Column, value: Any) -> dict[str, str]:
    if value is None:
        return {"text": "—", "cls": "n" if column.kind != "text" else ""}
    if column.name == "status" and value in STATUS:
        return {"text": STATUS[value].vi, "cls": value}
    if column.kind == "integer":
        return {"text": number(int(value)), "cls": "n"}
    if column.kind == "number":
        return {"text": number(float(value), column.digits), "cls": "n"}
    if isinstance(value, datetime):
        return {"text": value.strftime("%d/%m/%Y %H:%M"), "cls": "n"}
    if isinstance(value, date):
        return {"text": value.strftime("%d/%m/%Y"), "cls": "n"}
    return {"text": str(value), "cls": ""}


def report_html(report: Report) -> str:
    sections = []
    for s in report.sections:
        sections.append({
            "anchor": f"s-{s.id}", "title": s.title, "note": s.note,
            "figures": [{"title": f.title, "width_mm": f.width_mm,
                         "src": "data:image/png;base64," + base64.b64encode(f.png).decode()}
                        for f in s.figures],
            "tables": [{"title": t.title, "columns": t.columns,
                        "rows": [[_cell(c, v) for c, v in zip(t.columns, r)] for r in t.rows]}
                       for t in s.tables]})
    local = report.generated_local
    return _template().render(
        title=f"{report.title.vi} – {report.period.title_vi}", title_vi=report.title.vi,
        title_en=report.title.en, header=f"{report.title.vi} · {report.period.title_vi}",
        period_vi=report.period.title_vi[:1].upper() + report.period.title_vi[1:],
        period_en=report.period.title_en,
        area_name=report.area_name, generated_by=report.generated_by,
        generated_local=local.strftime("%H:%M ngày %d/%m/%Y"),
        created=report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        definition=report.definition, kind=report.kind, sections=sections,
        versions=sorted(report.versions.items()))


def report_pdf(report: Report) -> bytes:
    """The PDF bytes (blocking: call it in a worker thread)."""
    import weasyprint

    return weasyprint.HTML(string=report_html(report), base_url=str(TEMPLATES)).write_pdf()
