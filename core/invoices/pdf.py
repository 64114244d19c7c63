"""An invoice as a PDF, drawn with fpdf2 in DejaVu Sans (from matplotlib's data), so any name prints.

fpdf2 is pure Python, maintained, and writes text with a ToUnicode map, so standard readers open the file and
its text can be extracted (``pdftotext``). Amounts are shown rounded half-even to cents (credits exactly).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from core.costs.money import shown
from core.credits.amounts import format_credits
from core.invoices.statement import Statement
from storage.models import Invoice

FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WIDTHS = (62, 30, 30, 30, 28)
HEADINGS = ("Project", "Cost", "GCP credits", "Net cost", "Credits debited")


def month_name(month: str) -> str:
    """``2026-01`` as ``January 2026``."""
    return f"{MONTHS[int(month[5:]) - 1]} {month[:4]}"


def render(statement: Statement, invoice: Invoice, platform: str) -> bytes:
    """The invoice as PDF bytes: heading, the user and month, one line per project, totals."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(invoice.issued_at if isinstance(invoice.issued_at, datetime) else None)
    pdf.set_title(f"{platform} invoice {invoice.number}")
    pdf.set_author(platform)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(0, 10, f"{platform} — project costs invoice", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 10)
    for label, value in (("Invoice number", invoice.number), ("Month", month_name(statement.month)),
                         ("Billed to", f"{statement.user.display_name} (user {statement.user.id})"),
                         ("Issued", f"{invoice.issued_at:%Y-%m-%d}")):
        pdf.cell(35, 6, f"{label}:", new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _row(pdf, HEADINGS, bold=True)
    for line in statement.lines:
        name = line.project_id or "(no project)"
        _row(pdf, (name, shown(line.cost, line.currency), shown(line.credits, line.currency),
                   shown(line.net, line.currency), format_credits(line.debited)))
    pdf.ln(1)
    for currency, total in sorted(statement.totals.items()):
        _row(pdf, (f"Total {currency}", shown(total.cost, currency), shown(total.credits, currency),
                   shown(total.net, currency), format_credits(total.debited)), bold=True)
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(0, 4, "Costs are the cloud bill of the projects your deployments created, from the billing "
                         "export (invoice month). Net cost = cost + GCP credits (discounts, free tier). Credits "
                         "debited are the project-cost debits made for them so far (net cost × credits per unit). "
                         "A module's credit cost is charged separately.")
    return bytes(pdf.output())


def _row(pdf: FPDF, cells: tuple[str, ...], *, bold: bool = False) -> None:
    pdf.set_font("DejaVu", "B" if bold else "", 9)
    for i, (text, width) in enumerate(zip(cells, WIDTHS, strict=True)):
        fitted = text
        while pdf.get_string_width(fitted) > width - 2 and len(fitted) > 4:
            fitted = fitted[:-2] + "…"
        pdf.cell(width, 6, fitted, border="B" if bold else 0, align="L" if i == 0 else "R",
                 new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.ln(6)
