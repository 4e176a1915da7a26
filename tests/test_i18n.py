"""Every message exists in bokmål, nynorsk and English, and every key the templates and the client use is defined.

Nynorsk is required beside bokmål by the language act (språklova § 14) for self-service offered to the public;
the guards below catch a missing or extra key, a lost placeholder, and a nynorsk file that is bokmål copied over.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import aiohttp
import pytest

from tests.live_server import LiveServer, create_meeting, staff_client
from web.i18n import LANGUAGES, catalogue, pick_language, translate

WEB = Path(__file__).resolve().parent.parent / "web"
LOCALE = WEB / "locale"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}|%[sd]|<[^>]+>|&[a-z]+;")
BOKMAL_ONLY = re.compile(
    r"\b(ikke|jeg|hva|hvem|hvor|hvordan|hvorfor|hvis|bare|ennå|noen|fra|ble|mer|bruker|brukeren|tjenesten|"
    r"bekreft|bekreftet|slettet|valgt|koble|kobler|hører|deltakere|ansikter|forespørsel)\b",
    re.IGNORECASE,
)
"""Words that are bokmål and never nynorsk; nynorsk writes «ikkje», «eg», «kva», «brukar», «stadfest» …"""


def _file(lang: str, area: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((LOCALE / f"{lang}{area}.json").read_text(encoding="utf-8"))
    return data


def _areas(lang: str) -> list[str]:
    return sorted(path.name.removeprefix(lang).removesuffix(".json") for path in LOCALE.glob(f"{lang}.*json"))


AREAS = _areas("nb")


def test_every_language_has_the_same_catalogue_files() -> None:
    assert LANGUAGES == ("nb", "nn", "en")
    assert "" in AREAS and len(AREAS) > 1
    assert {".errors", ".invitations"} <= set(AREAS)  # refusals by code, and invitations, in every language too
    assert _areas("nn") == AREAS and _areas("en") == AREAS


@pytest.mark.parametrize("area", AREAS)
def test_every_area_file_has_the_same_keys_in_every_language(area: str) -> None:
    keys = set(_file("nb", area))
    for lang in ("nn", "en"):
        other = set(_file(lang, area))
        assert not keys - other, (lang, area, "missing", sorted(keys - other))
        assert not other - keys, (lang, area, "extra", sorted(other - keys))


def test_all_languages_have_the_same_keys() -> None:
    assert set(catalogue("nb")) == set(catalogue("nn")) == set(catalogue("en"))
    assert all(value.strip() for lang in LANGUAGES for value in catalogue(lang).values())


def test_placeholders_and_markup_are_the_same_in_every_language() -> None:
    nb = catalogue("nb")
    for lang in ("nn", "en"):
        other = catalogue(lang)
        wrong = [k for k, v in nb.items() if sorted(PLACEHOLDER.findall(v)) != sorted(PLACEHOLDER.findall(other[k]))]
        assert not wrong, (lang, wrong)


def test_nynorsk_is_written_not_copied_from_bokmal() -> None:
    nb, nn = catalogue("nb"), catalogue("nn")
    differing = sum(nn[key] != value for key, value in nb.items())
    assert differing / len(nb) >= 0.6, f"only {differing} of {len(nb)} nynorsk texts differ from bokmål"
    bokmal = {key: found for key, value in nn.items() if (found := BOKMAL_ONLY.findall(value))}
    assert not bokmal, bokmal


def test_nynorsk_uses_the_official_terms() -> None:
    nn = catalogue("nn")
    assert nn["consent.give"] == "Eg samtykkjer"
    assert nn["participant.bruker"] == "Brukar" and nn["participant.parorende"] == "Pårørande"
    assert "stadfesta" in nn["roster.confirmed"] and "ikkje" in nn["lobby.denied"]
    assert nn["scope.recording"] == "Opptak" and nn["staff.centre"] == "Hjelpemiddelsentral"


def test_every_key_used_in_templates_and_scripts_is_defined() -> None:
    used: set[str] = set()
    for path in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"t\('([a-z_.]+)'\)", path.read_text(encoding="utf-8")))
    for path in (WEB / "static").glob("*.js"):
        used |= {k for k in re.findall(r'S\["([a-z_.]+)"\]', path.read_text(encoding="utf-8"))}
    for lang in LANGUAGES:
        missing = used - set(catalogue(lang))
        assert not missing, (lang, sorted(missing))


def test_language_choice() -> None:
    assert pick_language(None, None, "nb-NO,nb;q=0.9,en;q=0.5") == "nb"
    assert pick_language(None, None, "en-GB") == "en"
    assert pick_language("en", "nb", "nb") == "en"  # an explicit choice wins
    assert pick_language(None, None, None) == "nb"  # bokmål first
    assert translate("en", "no.such.key") == "no.such.key"


def test_nynorsk_choice() -> None:
    assert pick_language("nn", None, "en") == "nn"
    assert pick_language(None, "nn", "en") == "nn"
    assert pick_language("xx", "nn", None) == "nn"  # an unknown query does not beat the cookie
    assert pick_language(None, None, "nn") == "nn"
    assert pick_language(None, None, "nn-NO") == "nn"
    assert pick_language(None, None, "NN-no,nb;q=0.8") == "nn"
    assert pick_language(None, None, "no") == "nb" and pick_language(None, None, "no-NO") == "nb"
    assert pick_language(None, None, "nb,nn;q=0.9") == "nb"  # the header's order is respected
    assert pick_language(None, None, "nn,nb") == "nn"
    assert pick_language(None, None, "en;q=0.5,nn;q=0.8") == "nn"  # and its q-values
    assert pick_language(None, None, "de,fr;q=0.9,nn;q=0.1") == "nn"  # the first language we speak
    assert pick_language(None, None, "nn;q=0,en") == "en"  # q=0 means "not this one"
    assert pick_language(None, None, "nn;q=nan,sv") == "nb"
    assert pick_language(None, None, "sv,de") == "nb"


def _switch(page: str) -> list[tuple[str, str, str, bool]]:
    nav = re.search(r'<nav class="language-switch" aria-label="([^"]+)">(.*?)</nav>', page, re.S)
    assert nav, "no language switch"
    links = re.findall(r'<a href="([^"]+)" lang="([a-z]+)" hreflang="([a-z]+)"( aria-current="true")?>', nav.group(2))
    return [(href, lang, hreflang, bool(current)) for href, lang, hreflang, current in links]


async def test_front_page_in_nynorsk_by_query_cookie_and_header(server: LiveServer) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{server.url}/?lang=nn") as resp:
            assert resp.status == 200
            page = await resp.text()
        assert '<html lang="nn">' in page
        assert html.escape(translate("nn", "index.citizen"), quote=False) in page
        assert 'aria-label="Språk"' in page
        assert _switch(page) == [
            ("/?lang=nb", "nb", "nb", False),
            ("/?lang=nn", "nn", "nn", True),
            ("/?lang=en", "en", "en", False),
        ]
        async with browser.get(f"{server.url}/kode") as resp:  # the cookie keeps the choice
            page = await resp.text()
        assert '<html lang="nn">' in page and translate("nn", "code.title") in page
        assert ("/kode?lang=nn", "nn", "nn", True) in _switch(page)
    async with aiohttp.ClientSession() as anyone:
        async with anyone.get(server.url, headers={"Accept-Language": "nn-NO,nn;q=0.9,nb;q=0.8"}) as resp:
            page = await resp.text()
        assert '<html lang="nn">' in page and "Du treng ingen brukarkonto" in page
        async with anyone.get(server.url, headers={"Accept-Language": "nb-NO,nn;q=0.5"}) as resp:
            page = await resp.text()
        assert '<html lang="nb">' in page and "Du trenger ingen bruker" in page
        assert [current for *_, current in _switch(page)] == [True, False, False]
        async with anyone.get(f"{server.url}/?lang=en", headers={"Accept-Language": "nn"}) as resp:
            page = await resp.text()
        assert '<html lang="en">' in page and 'aria-label="Language"' in page
        assert [current for *_, current in _switch(page)] == [False, False, True]


async def test_join_page_in_nynorsk(server: LiveServer) -> None:
    kari = await staff_client(server)
    try:
        links = await create_meeting(kari, server, ["bruker"])
    finally:
        await kari.close()
    nynorsk = {"Accept-Language": "nn"}
    async with aiohttp.ClientSession() as citizen, citizen.get(links["bruker"], headers=nynorsk) as resp:
        assert resp.status == 200
        page = await resp.text()
    assert '<html lang="nn">' in page
    assert "<strong>Brukar</strong>" in page  # the role label
    found = re.search(r'<script type="application/json" id="strings">(.*?)</script>', page, re.S)
    assert found, "no strings for call.js"
    strings = json.loads(found.group(1))
    assert strings["call.leave"] == "Gå ut av møtet" and strings["role.bruker"] == "Brukar"
    assert strings["consent.give"] == "Eg samtykkjer"
    path = links["bruker"].removeprefix(server.url)
    assert [(href, lang) for href, lang, *_ in _switch(page)] == [(f"{path}?lang={code}", code) for code in LANGUAGES]
