"""The audit log as people read it: names and roles, plain actions, Oslo time, filters, CSV and JSONL export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.live_server import LiveServer, create_meeting, staff_client

pytestmark = pytest.mark.timeout(90)
KARI, PIA = 1, 5
ROW = re.compile(r'<tr data-seq="(\d+)" data-action="([a-z_.]+)"><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>')


async def test_the_compliance_officer_reads_names_plain_actions_and_local_time(server: LiveServer) -> None:
    kari = await staff_client(server, KARI)
    pia = await staff_client(server, PIA)
    try:
        await create_meeting(kari, server, ["bruker"])
        async with pia.get(f"{server.url}/staff/audit") as resp:
            assert resp.status == 200
            page = await resp.text()
        rows = ROW.findall(page)
        issued = [r for r in rows if r[1] == "invitation.issue"]
        assert issued, page
        _seq, _action, when, what, who = issued[0]
        assert what == "Laget en lenke til et møte" and who.startswith("Kari Ergo")
        assert "staff-1" not in page and "+00:00" not in page and "invitation.issue</td>" not in page
        local = datetime.strptime(when, "%d.%m.%Y, %H:%M:%S").replace(tzinfo=ZoneInfo("Europe/Oslo"))
        assert abs(local - datetime.now(ZoneInfo("Europe/Oslo"))) < timedelta(minutes=5)
        assert "norsk tid (Europe/Oslo)" in page

        async with pia.get(f"{server.url}/staff/audit?action=access.grant") as resp:
            assert {r[1] for r in ROW.findall(await resp.text())} <= {"access.grant"}
        async with pia.get(f"{server.url}/staff/audit?person={KARI}&action=invitation.issue") as resp:
            assert len(ROW.findall(await resp.text())) == len(issued)
        async with pia.get(f"{server.url}/staff/audit?person={PIA}&action=invitation.issue") as resp:
            assert ROW.findall(await resp.text()) == []
        tomorrow = (datetime.now(ZoneInfo("Europe/Oslo")) + timedelta(days=1)).date().isoformat()
        async with pia.get(f"{server.url}/staff/audit?from={tomorrow}") as resp:
            assert ROW.findall(await resp.text()) == []
        for bad in (
            "from=24.11.2025",
            "person=x",
            "action=drop.table",
            "meeting=../x",
            "from=2025-02-02&to=2025-01-01",
        ):
            async with pia.get(f"{server.url}/staff/audit?{bad}") as resp:
                assert resp.status == 400 and 'role="alert"' in await resp.text(), bad

        async with pia.get(f"{server.url}/staff/audit?action=invitation.issue&format=csv") as resp:
            assert resp.status == 200 and resp.content_type == "text/csv"
            assert "attachment" in resp.headers["Content-Disposition"]
            table = list(csv.DictReader(io.StringIO(await resp.text())))
        assert len(table) == len(issued) and table[0]["who"].startswith("Kari Ergo")
        assert table[0]["what"] == "Laget en lenke til et møte" and table[0]["time"] == when
        async with pia.get(f"{server.url}/staff/audit?action=invitation.issue&format=jsonl&lang=en") as resp:
            lines = [json.loads(line) for line in (await resp.text()).splitlines()]
        assert len(lines) == len(issued) and lines[0]["what"] == "Made a link to a meeting"

        async with kari.get(f"{server.url}/staff/audit?format=csv") as resp:
            assert resp.status == 403  # only the compliance officer reads it, exports included
    finally:
        await kari.close()
        await pia.close()
