"""The connector logger: every line says which connector it is about; idTags redacted."""

from __future__ import annotations

import hashlib
import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.log_context import connector_logger, redact_id_tag


def test_every_line_is_prefixed_and_carries_the_id(caplog: pytest.LogCaptureFixture) -> None:
    base = logging.getLogger("tests.log_context")
    log = connector_logger(base, 3)
    with caplog.at_level(logging.DEBUG, logger="tests.log_context"):
        log.info("status %s %s", "Charging", "NoError")
        log.warning("100% plain text")  # no arguments: a % in the text stays as it is
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("%s task failed", "meter")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "connector 3: status Charging NoError",
        "connector 3: 100% plain text",
        "connector 3: meter task failed",
    ]
    assert all(r.name == "tests.log_context" for r in caplog.records)  # the module's logger
    assert [getattr(r, "connector_id", None) for r in caplog.records] == [3, 3, 3]
    assert caplog.records[2].exc_info is not None


def test_levels_follow_the_module_logger(caplog: pytest.LogCaptureFixture) -> None:
    base = logging.getLogger("tests.log_context.levels")
    log = connector_logger(base, 1)
    with caplog.at_level(logging.WARNING, logger="tests.log_context.levels"):
        log.debug("not shown")
        log.error("shown")
    assert [r.getMessage() for r in caplog.records] == ["connector 1: shown"]


def test_a_redacted_id_tag_is_short_stable_and_the_documented_hash() -> None:
    shown = redact_id_tag("04A2B3C4D5")
    assert shown == "#085ed7"  # the example of the docstring: grep for it to find a card
    assert shown == "#" + hashlib.sha256(b"04a2b3c4d5").hexdigest()[:6]
    assert redact_id_tag("04A2B3C4D5") == shown  # stable: the same card, the same form
    assert redact_id_tag("04a2b3c4d5") == shown  # idTags compare case-insensitively
    assert redact_id_tag("04A2B3C4D6") != shown  # another card, another form


# Printable ASCII up to 20 characters: an OCPP 1.6 IdToken (CiString20).
ID_TAGS = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                  max_size=20)


@given(ID_TAGS)
def test_every_id_tag_becomes_a_hash_form_in_any_case(id_tag: str) -> None:
    shown = redact_id_tag(id_tag)
    assert re.fullmatch(r"#[0-9a-f]{6}", shown)  # nothing of the tag in clear
    assert redact_id_tag(id_tag.upper()) == redact_id_tag(id_tag.lower()) == shown
