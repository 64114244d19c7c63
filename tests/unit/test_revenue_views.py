"""How revenue reports read: a CSV too large for a chat upload goes gzipped, whole."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from decimal import Decimal

from commands.views.revenue import GZIP_OVER, UPLOAD_MAX, csv_attachment, too_large
from core.revenue.report import Line, Report
from core.revenue.scope import digest_scope

ZERO = Line("Total", 0, Decimal(0), Decimal(0), Decimal(0))


def report() -> Report:
    scope = digest_scope(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    return Report(scope, "usd", Decimal(100), ZERO)


def test_a_csv_within_the_upload_limit_goes_as_it_is() -> None:
    small = b"id,date\n1,2026-01-01T00:00:00Z\n"
    attached = csv_attachment(report(), small)
    assert (attached.filename, attached.mime, attached.content) == \
        ("revenue-2026-01-01-2026-12-31.csv", "text/csv", small)


def test_a_csv_too_large_for_discord_goes_gzipped_and_whole() -> None:
    rows = b"".join(b"%d,2026-01-01T00:00:00Z,module-%03d,1,2,3\n" % (i, i % 200) for i in range(300_000))
    assert len(rows) > GZIP_OVER
    attached = csv_attachment(report(), rows)
    assert attached.filename == "revenue-2026-01-01-2026-12-31.csv.gz" and attached.mime == "application/gzip"
    assert len(attached.content) < 10 * 1024 * 1024 and gzip.decompress(attached.content) == rows


def test_a_csv_too_large_even_gzipped_is_not_sent_and_the_reply_says_why() -> None:
    noise = os.urandom(UPLOAD_MAX + 1024).hex().encode()  # random: gzip cannot shrink it below the limit
    assert csv_attachment(report(), noise) is None
    assert "too large to send in chat" in too_large(report()) and "shorter period" in too_large(report())
