"""The connector logger: every line says which connector it is about."""

from __future__ import annotations

import logging

import pytest

from firmware.log_context import connector_logger


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
