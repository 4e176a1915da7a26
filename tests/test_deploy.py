"""The deployment files agree with the code: every variable the manifest and the image set is one the settings
read, the probes point at real routes, and every structured log field the code writes is documented."""

from __future__ import annotations

import re
from pathlib import Path

from web.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
CODE = [p for d in ("web", "session", "privacy", "recordings") for p in (REPO / d).rglob("*.py")]


def _read_names() -> set[str]:
    return {n for p in CODE for n in re.findall(r"SAMHANDLING_[A-Z_]+", p.read_text(encoding="utf-8"))}


def test_every_variable_in_the_manifest_and_the_image_is_read_by_the_service() -> None:
    manifest = (REPO / "deploy" / "nais.yaml").read_text(encoding="utf-8")
    image = (REPO / "deploy" / "Containerfile").read_text(encoding="utf-8")
    set_there = set(re.findall(r"name: (SAMHANDLING_[A-Z_]+)", manifest)) | set(
        re.findall(r"(SAMHANDLING_[A-Z_]+)=", image)
    )
    assert set_there and set_there <= _read_names(), sorted(set_there - _read_names())
    assert "envVarPrefix: SAMHANDLING_DB" in manifest  # read as SAMHANDLING_DB_URL
    for probe in ("/internal/isalive", "/internal/isready", "/internal/metrics"):
        assert probe in manifest and probe in (REPO / "web" / "health.py").read_text(encoding="utf-8")


def test_the_manifest_literal_values_make_valid_settings(tmp_path: Path) -> None:
    manifest = (REPO / "deploy" / "nais.yaml").read_text(encoding="utf-8")
    env = {
        name: value.strip().strip("'\"")
        for name, value in re.findall(r"- name: (SAMHANDLING_[A-Z_]+)\n\s+value: (.+)", manifest)
        if "{{" not in value
    }
    env |= {  # what the platform and the secrets add
        "IDPORTEN_ISSUER": "https://idporten.no",
        "IDPORTEN_CLIENT_ID": "c",
        "SAMHANDLING_OIDC_CLIENT_SECRET": "s",
        "SAMHANDLING_ALTINN_PDP_URL": "https://platform.altinn.no/authorization/api/v1/authorize",
        "SAMHANDLING_ALTINN_SUBSCRIPTION_KEY": "k",
        "SAMHANDLING_DATA_DIR": str(tmp_path),
    }
    settings = load_settings(env)
    assert settings.authorization_provider == "altinn" and not settings.dev_mode
    assert settings.oidc_acr_level == "idporten-loa-substantial"


def test_every_logged_field_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", (REPO / "docs" / "logs.md").read_text(encoding="utf-8"), re.M))
    logged: set[str] = set()
    for path in CODE:
        for extra in re.findall(r"extra=\{([^}]*)\}", path.read_text(encoding="utf-8")):
            logged |= set(re.findall(r'"([a-z_]+)":', extra))
    assert logged and logged <= documented, sorted(logged - documented)
