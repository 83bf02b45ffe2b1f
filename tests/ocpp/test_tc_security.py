"""OCTT Security (profile 1): HTTP Basic authentication with AuthorizationKey, over ws and
wss, and a new key taking effect by reconnecting."""

from __future__ import annotations

import base64
import random
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from firmware.clock import ManualClock
from firmware.config.model import Identity
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.link import Backoff, OcppLink
from firmware.storage.store import Store
from hal_sim.csms_demo import serve
from tests.support.peer_harness import StubStation, install_stub_profiles, running, until
from tests.support.tc_harness import CP_AC, demo_station, strict_station

KEY_1 = "0123456789abcdef0123"
KEY_2 = "fedcba9876543210fedcba98"


def basic(cp_id: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{cp_id}:{password}".encode()).decode()


async def test_tc_073_update_cp_password_for_http_basic_auth(tmp_path: Path) -> None:
    async with demo_station(tmp_path, [("AuthorizationKey", KEY_1)]) as (s, csms):
        assert csms.csms.auth[CP_AC] == basic(CP_AC, KEY_1)
        answer = await csms.call("ChangeConfiguration", {"key": "AuthorizationKey",
                                                         "value": KEY_2})
        assert answer["status"] == "Accepted"
        await csms.wait_for("BootNotification")  # it reconnected with the new password
        assert csms.csms.auth[CP_AC] == basic(CP_AC, KEY_2)
        await until(lambda: s.station.link.online)
        config = await csms.call("GetConfiguration", {"key": ["AuthorizationKey"]})
        assert config == {"configurationKey": [], "unknownKey": ["AuthorizationKey"]}


async def test_tc_085_basic_authentication_valid_user_password(tmp_path: Path) -> None:
    async with strict_station(tmp_path, [("AuthorizationKey", KEY_1)]) as (_s, peer):
        connected = await peer.wait_event("connected")
        assert connected["identity"] == CP_AC and connected["password"] == KEY_1


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


async def test_tc_085_basic_authentication_over_wss(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    csms = await serve(tls=server_tls)
    store = Store(None)
    keys = ConfigKeys(store)
    keys.set_initial("AuthorizationKey", KEY_1)
    identity = Identity(charge_point_id="CP-TLS-1", vendor="OpenEVSE Works", model="AC22-2S")
    station = StubStation()
    link = OcppLink(identity, csms.url, store, keys, ManualClock(), connector_count=2,
                    backoff=Backoff(0.05, 0.2, rng=random.Random(1)), ssl_context=client_tls)
    install_stub_profiles(link, station)
    try:
        assert csms.url.startswith("wss://")
        async with running(link, station):
            await until(lambda: link.online)
            assert csms.auth["CP-TLS-1"] == basic("CP-TLS-1", KEY_1)
    finally:
        await csms.close()
