"""The configuration key catalogue of the DC manual chapter 5: accessibility, validation,
RebootRequired, persistence, the station's computed keys."""

from __future__ import annotations

import ast
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.exceptions import OccurenceConstraintViolationError

import firmware.ocpp
from firmware.app.assembly import persisted_identity
from firmware.config import load_station
from firmware.ocpp.key_specs import Access, InvalidValue, KeySpec, KeyType, split_csl
from firmware.ocpp.keys import ChangeResult, ConfigKeys
from firmware.ocpp.keys_catalog import (
    CATALOGUE,
    apply_station,
    connectors_json,
    parse_connectors,
    set_modem_status,
)
from firmware.storage.store import Store
from tests.conftest import AC_STATION, DC_STATION

DC = load_station(DC_STATION)  # three connectors: CCS, CHAdeMO, Type 2
AUTH_KEY = "00112233445566778899aabbccddeeff"


def _names(text: str) -> set[str]:
    return set(text.split())


# Every chapter 5 key, by manual section: the catalogue has exactly these.
MANUAL_KEYS = {
    "Core": """AllowOfflineTxForUnknownId AuthorizationCacheEnabled AuthorizeRemoteTxRequests
        BlinkRepeat ClockAlignedDataInterval ConnectionTimeOut ConnectorPhaseRotation
        ConnectorPhaseRotationMaxLength GetConfigurationMaxKeys HeartbeatInterval
        LightIntensity LocalAuthorizeOffline LocalPreAuthorize MaxEnergyOnInvalidId
        MeterValuesAlignedData MeterValuesAlignedDataMaxLength MeterValuesSampledData
        MeterValuesSampledDataMaxLength MeterValueSampleInterval MinimumStatusDuration
        NumberOfConnectors ResetRetries StopTransactionOnEVSideDisconnect
        StopTransactionOnInvalidId StopTxnAlignedData StopTxnAlignedDataMaxLength
        StopTxnSampledData StopTxnSampledDataMaxLength SupportedFeatureProfiles
        SupportedFeatureProfilesMaxLength TransactionMessageAttempts
        TransactionMessageRetryInterval UnlockConnectorOnEVSideDisconnect
        WebSocketPingInterval""",
    "LocalAuthListManagement": "LocalAuthListEnabled LocalAuthListMaxLength "
    "SendLocalListMaxLength",
    "Reservation": "ReserveConnectorZeroSupported",
    "SmartCharging": """ChargeProfileMaxStackLevel ChargingScheduleAllowedChargingRateUnit
        ChargingScheduleMaxPeriods ConnectorSwitch3to1PhaseSupported
        MaxChargingProfilesInstalled""",
    "Security": """AuthorizationKey CertificateSignedMaxChainSize CertificateStoreMaxLength
        CpoName SecurityProfile""",
    "Hypercharger": """WebSocketUrl HycKioskModeEnabled HycKioskModeTagIds SimPin APN
        ApnUsername ApnPassword DnsServer SecondaryDnsServer GUIchargingCurrentVisible
        GUIchargingVoltageVisible GUIchargingPowerVisible GUItimeRemainingVisible
        GUIchargeParameterOverlayVisible GUIprimaryLanguage GUIsecondaryLanguage
        GUItertiaryLanguage GUIslideTime GUIChargingSessionScreenTimeout MaxGridPower
        ChargePointMaxProfileEnabled chargePointIdentity Connectors ConnectorsPowerLimit
        MobileRSSI MobileProvider MobileConnectionStandard GUIConnectorHolderColors
        GridFallbackPower GridFallbackTimeout ModbusLoadManagementEnabled ChargingStrategy
        AutochargeEnabled RemoteTxStoppableLocally KioskModeWhenOffline
        GUIchargePointIdVisible GUIconnectorPowerVisible GUIconnectorLabelsVisible
        GUIconnectorLabels ChargePointModelLegacyMode""",
}
READ_ONLY = _names("""ConnectorPhaseRotationMaxLength GetConfigurationMaxKeys
    MeterValuesAlignedDataMaxLength MeterValuesSampledDataMaxLength NumberOfConnectors
    StopTxnAlignedDataMaxLength StopTxnSampledDataMaxLength SupportedFeatureProfiles
    SupportedFeatureProfilesMaxLength LocalAuthListMaxLength SendLocalListMaxLength
    ReserveConnectorZeroSupported ChargeProfileMaxStackLevel
    ChargingScheduleAllowedChargingRateUnit ChargingScheduleMaxPeriods
    ConnectorSwitch3to1PhaseSupported MaxChargingProfilesInstalled
    CertificateSignedMaxChainSize CertificateStoreMaxLength Connectors MobileRSSI
    MobileProvider MobileConnectionStandard""")
# RebootRequired true in the manual (5.1.6).
REBOOT = _names("""WebSocketUrl SimPin APN ApnUsername ApnPassword GUIchargingCurrentVisible
    GUIchargingVoltageVisible GUIchargingPowerVisible GUItimeRemainingVisible
    GUIchargeParameterOverlayVisible GUIprimaryLanguage GUIsecondaryLanguage
    GUItertiaryLanguage GUIslideTime MaxGridPower ChargePointMaxProfileEnabled
    chargePointIdentity ConnectorsPowerLimit GridFallbackPower GridFallbackTimeout
    ModbusLoadManagementEnabled ChargingStrategy AutochargeEnabled GUIchargePointIdVisible
    GUIconnectorPowerVisible GUIconnectorLabelsVisible GUIconnectorLabels
    ChargePointModelLegacyMode""")

# A valid new value for the keys whose type alone does not give one (on the DC station).
VALID = {
    "ConnectorPhaseRotation": "0.RST,1.NotApplicable,2.NotApplicable,3.RTS",
    "MeterValuesAlignedData": "Energy.Active.Import.Register,Power.Active.Import",
    "MeterValuesSampledData": "Energy.Active.Import.Register,SoC",
    "StopTxnAlignedData": "Power.Active.Import",
    "StopTxnSampledData": "Energy.Active.Import.Register,Current.Import",
    "AuthorizationKey": AUTH_KEY,
    "CpoName": "Example CPO",
    "WebSocketUrl": "wss://csms.example.com/ocpp",
    "HycKioskModeTagIds": "KIOSK1,KIOSK2,KIOSK3",
    "SimPin": "1234",
    "APN": "internet.example.com",
    "ApnUsername": "user",
    "ApnPassword": "secret-1",
    "DnsServer": "9.9.9.9",
    "SecondaryDnsServer": "2620:fe::fe",
    "GUIprimaryLanguage": "fr",
    "GUIsecondaryLanguage": "en",
    "GUItertiaryLanguage": "de",
    "chargePointIdentity": "HYC-NEW-01",
    "ConnectorsPowerLimit": "150000,100000,11000",
    "GUIConnectorHolderColors": "#111111,#222222,#333333,#444444,#555555",
    "ChargingStrategy": "FAIR",
    "GUIconnectorLabels": "Links,Mitte,Rechts",
}
# A value of the wrong type and one out of range (None: the type has no range).
BAD_OVERRIDES: dict[str, tuple[str, str | None]] = {
    "ConnectorPhaseRotation": ("1-RST", "4.RST"),  # no connector 4
    "ConnectorsPowerLimit": ("50kW,1,1", "1,1,10000001"),
    "GUIConnectorHolderColors": ("red,green,blue,cyan,pink", "#111111,#222222"),
    "HycKioskModeTagIds": ("K\u00c4,B", "A" * 21),
    "GUIconnectorLabels": ("L\u00e9ft", "A,B,C,D"),  # four labels, three connectors
    "WebSocketUrl": ("http://csms.example.com", "wss://x/" + "a" * 500),
    "DnsServer": ("dns.google", "256.1.1.1"),
    "SecondaryDnsServer": ("dns.google", "1.2.3.4.5"),
    "SimPin": ("12a4", "123456789"),
    "APN": ("my apn", "a" * 101),
    "chargePointIdentity": ("id/with/slash", "X" * 49),
    "ChargingStrategy": ("first-come", "FIFO"),
    "AuthorizationKey": ("\u00fc" * 20, "0" * 41),
    "SecurityProfile": ("one", "4"),
}


def keys_for_dc(store: Store | None = None) -> ConfigKeys:
    keys = ConfigKeys(store or Store(None))
    apply_station(keys, DC, "ws://127.0.0.1:9000/ocpp")
    return keys


def writable() -> list[KeySpec]:
    return [s for s in CATALOGUE if s.access != Access.R]


def valid_value(spec: KeySpec, current: str | None) -> str:
    if spec.name in VALID:
        return VALID[spec.name]
    if spec.type == KeyType.BOOL:
        return "false" if current == "true" else "true"
    if spec.type == KeyType.INT:
        low = spec.minimum if spec.minimum is not None else 0
        return str(low + 1 if str(low + 1) != current else low)
    if spec.type == KeyType.STR:
        return "value-1"
    raise AssertionError(f"no valid example for {spec.name}")


def bad_values(spec: KeySpec) -> tuple[str, str | None]:
    if spec.name in BAD_OVERRIDES:
        return BAD_OVERRIDES[spec.name]
    if spec.type == KeyType.BOOL:
        return "yes", None
    if spec.type == KeyType.INT:
        out = str(spec.minimum - 1) if spec.minimum is not None else str(spec.maximum + 1)  # type: ignore[operator]
        return "12.5", out
    if spec.type == KeyType.CSL and spec.allowed is not None:
        return "42", ",".join([*spec.allowed[:1], "Energy.Reactive.Import.Register"])
    if spec.type == KeyType.STR:
        return "Z\u00fcrich", "a" * ((spec.max_length or 500) + 1)
    raise AssertionError(f"no bad example for {spec.name}")


# --------------------------------------------------------------------------- the catalogue


def test_the_catalogue_is_chapter_5() -> None:
    by_profile: dict[str, set[str]] = {}
    for spec in CATALOGUE:
        by_profile.setdefault(spec.profile, set()).add(spec.name)
    assert by_profile == {p: _names(names) for p, names in MANUAL_KEYS.items()}
    assert {s.name for s in CATALOGUE if s.access == Access.R} == READ_ONLY
    assert [s.name for s in CATALOGUE if s.access == Access.W] == ["AuthorizationKey"]
    assert {s.name for s in CATALOGUE if s.reboot_required} == REBOOT
    assert len({s.name.casefold() for s in CATALOGUE}) == len(CATALOGUE)
    assert all(len(s.name) <= 50 for s in CATALOGUE)  # CiString50


def _ocpp_imports(module: str) -> set[str]:
    """The firmware.ocpp modules ``module`` imports, wherever the import statement is."""
    source = (Path(firmware.ocpp.__file__).parent / f"{module}.py").read_text()
    found = {alias.name for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Import) for alias in node.names}
    found |= {node.module for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.ImportFrom) and node.module}
    return {name for name in found if name.startswith("firmware.ocpp.")}


def test_the_catalogue_depends_on_the_declarations_never_on_the_registry() -> None:
    # No import cycle: key_specs <- keys_catalog <- keys (the registry's default).
    assert _ocpp_imports("key_specs") == set()
    assert _ocpp_imports("keys_catalog") == {"firmware.ocpp.key_specs"}
    assert "firmware.ocpp.keys_catalog" in _ocpp_imports("keys")
    assert [s.name for s in ConfigKeys(Store(None)).specs()] == [s.name for s in CATALOGUE]


def test_every_key_is_readable_per_its_accessibility() -> None:
    keys = keys_for_dc()
    keys.set_initial("AuthorizationKey", AUTH_KEY)
    everything, unknown = keys.configuration()
    assert unknown == []
    by_key = {e["key"]: e for e in everything}
    assert set(by_key) == {s.name for s in CATALOGUE} - {"AuthorizationKey"}
    for spec in CATALOGUE:
        entries, unknown = keys.configuration([spec.name.upper()])  # CiString: any case
        if spec.access == Access.W:
            assert entries == [] and unknown == [spec.name.upper()]
            continue
        assert unknown == [] and entries == [by_key[spec.name]]
        assert entries[0]["readonly"] is (spec.access == Access.R), spec.name
        value = entries[0].get("value")
        assert value is None or (isinstance(value, str) and len(value) <= 500)


def test_defaults_from_the_station_and_the_manual() -> None:
    keys = keys_for_dc()
    assert keys.get("NumberOfConnectors") == "3"
    assert keys.get("ConnectorPhaseRotationMaxLength") == "4"
    assert keys.get("MaxGridPower") == keys.get("GridFallbackPower") == "72000"
    assert keys.get("chargePointIdentity") == "EVSE-DC-0001"
    assert keys.get("WebSocketUrl") == "ws://127.0.0.1:9000/ocpp"
    assert keys.get("ConnectorsPowerLimit") == "50000,50000,22080"
    assert keys.get("ConnectorPhaseRotation") == "1.NotApplicable,2.NotApplicable,3.RST"
    assert keys.get("GUIconnectorLabels") == "CCS,CHAdeMO,AC"
    # The manual's OCPP File screenshots (4.3.1)
    for name, value in {
        "GetConfigurationMaxKeys": "240", "BlinkRepeat": "10", "ConnectionTimeOut": "30",
        "HeartbeatInterval": "1800", "LightIntensity": "50", "LocalAuthListEnabled": "true",
        "LocalAuthorizeOffline": "true", "LocalPreAuthorize": "true",
        "MaxEnergyOnInvalidId": "0", "MeterValueSampleInterval": "30", "ResetRetries": "3",
        "LocalAuthListMaxLength": "100", "SendLocalListMaxLength": "10",
        "StopTransactionOnEVSideDisconnect": "true", "StopTransactionOnInvalidId": "true",
        "StopTxnSampledData": "Energy.Active.Import.Register",
        "TransactionMessageAttempts": "1", "TransactionMessageRetryInterval": "1",
        "UnlockConnectorOnEVSideDisconnect": "true", "WebSocketPingInterval": "120",
        "ChargePointMaxProfileEnabled": "true", "GridFallbackTimeout": "5",
        "AutochargeEnabled": "false", "ChargePointModelLegacyMode": "false",
        "RemoteTxStoppableLocally": "true", "KioskModeWhenOffline": "false",
        "AllowOfflineTxForUnknownId": "false", "AuthorizationCacheEnabled": "false",
    }.items():
        assert keys.get(name) == value, name


# --------------------------------------------------------------------------- changing


@pytest.mark.parametrize("spec", writable(), ids=lambda s: s.name)
def test_every_writable_key_rejects_wrong_values_and_keeps_the_old_one(spec: KeySpec) -> None:
    keys = keys_for_dc()
    keys.set_initial("AuthorizationKey", AUTH_KEY)  # SecurityProfile 1 needs it
    before = keys.get(spec.name)
    wrong_type, out_of_range = bad_values(spec)
    assert keys.change(spec.name, wrong_type) == ChangeResult.REJECTED
    assert keys.get(spec.name) == before
    if out_of_range is not None:
        assert keys.change(spec.name, out_of_range) == ChangeResult.REJECTED
        assert keys.get(spec.name) == before
    assert keys.change(spec.name, "bad\x00value") == ChangeResult.REJECTED
    assert keys.get(spec.name) == before


@pytest.mark.parametrize("spec", writable(), ids=lambda s: s.name)
def test_every_writable_key_accepts_a_valid_value_with_reboot_required_as_the_manual_says(
    spec: KeySpec,
) -> None:
    keys = keys_for_dc()
    if spec.name == "SecurityProfile":
        keys.set_initial("AuthorizationKey", AUTH_KEY)
    value = valid_value(spec, keys.get(spec.name))
    expected = ChangeResult.REBOOT_REQUIRED if spec.name in REBOOT else ChangeResult.ACCEPTED
    assert keys.change(spec.name, value) == expected
    assert keys.get(spec.name) == value or spec.access == Access.W


@pytest.mark.parametrize("spec", [s for s in CATALOGUE if s.access == Access.R],
                         ids=lambda s: s.name)
def test_read_only_keys_are_rejected(spec: KeySpec) -> None:
    keys = keys_for_dc()
    before = keys.get(spec.name)
    assert keys.change(spec.name, before or "1") == ChangeResult.REJECTED
    assert keys.get(spec.name) == before


def test_unknown_key_is_not_supported_and_names_are_case_insensitive() -> None:
    keys = keys_for_dc()
    assert keys.change("NoSuchKey", "1") == ChangeResult.NOT_SUPPORTED
    assert keys.change("heartbeatinterval", "60") == ChangeResult.ACCEPTED
    assert keys.change("chargingstrategy", "fair") == ChangeResult.REBOOT_REQUIRED
    assert keys.get("ChargingStrategy") == "FAIR"  # the declared spelling
    assert keys.change("AuthorizeRemoteTxRequests", " TRUE ") == ChangeResult.ACCEPTED
    assert keys.get("AuthorizeRemoteTxRequests") == "true"


def test_every_change_persists_across_a_store_reopen(tmp_path: Path) -> None:
    path = tmp_path / "station.sqlite"
    keys = keys_for_dc(Store(path))
    keys.set_initial("AuthorizationKey", AUTH_KEY)
    expected = {}
    for spec in writable():
        value = valid_value(spec, keys.get(spec.name))
        assert keys.change(spec.name, value) != ChangeResult.REJECTED, spec.name
        expected[spec.name] = value
    keys._store.close()
    reopened = keys_for_dc(Store(path))
    for name, value in expected.items():
        assert reopened.get(name) == value, name
    reopened._store.close()


def test_a_stored_value_depending_on_the_station_survives_the_start(tmp_path: Path) -> None:
    path = tmp_path / "station.sqlite"
    keys = keys_for_dc(Store(path))
    assert keys.change("ConnectorsPowerLimit", "1,2,3") == ChangeResult.REBOOT_REQUIRED
    keys._store.close()
    # Before apply_station NumberOfConnectors is 1 and the three values do not fit; after
    # it they do.
    reopened = keys_for_dc(Store(path))
    assert reopened.get("ConnectorsPowerLimit") == "1,2,3"


def test_max_length_companions_limit_the_lists() -> None:
    keys = keys_for_dc()
    keys.set_readonly("MeterValuesSampledDataMaxLength", "2")
    three = "Energy.Active.Import.Register,Power.Active.Import,Voltage"
    assert keys.change("MeterValuesSampledData", three) == ChangeResult.REJECTED
    two = "Energy.Active.Import.Register,Voltage"
    assert keys.change("MeterValuesSampledData", two) == ChangeResult.ACCEPTED
    keys.set_readonly("ConnectorPhaseRotationMaxLength", "2")
    rotation = "0.RST,1.RST,2.RST"
    assert keys.change("ConnectorPhaseRotation", rotation) == ChangeResult.REJECTED
    with pytest.raises(InvalidValue):
        keys.set_readonly("SupportedFeatureProfiles", "Core,Core")
    duplicate = "Voltage,Voltage"
    assert keys.change("StopTxnSampledData", duplicate) == ChangeResult.REJECTED


def test_security_profile_goes_only_up_and_only_when_it_can_work() -> None:
    keys = keys_for_dc()
    assert keys.change("SecurityProfile", "1") == ChangeResult.REJECTED  # no password
    keys.set_initial("AuthorizationKey", AUTH_KEY)
    assert keys.change("SecurityProfile", "2") == ChangeResult.REJECTED  # ws://, not wss://
    assert keys.change("SecurityProfile", "1") == ChangeResult.ACCEPTED
    assert keys.change("SecurityProfile", "0") == ChangeResult.REJECTED  # never down
    assert keys.change("WebSocketUrl", "wss://csms.example.com/ocpp") \
        == ChangeResult.REBOOT_REQUIRED
    assert keys.change("SecurityProfile", "2") == ChangeResult.ACCEPTED
    assert keys.change("SecurityProfile", "3") == ChangeResult.REJECTED  # no certificates
    assert keys.get("SecurityProfile") == "2"


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from([s.name for s in CATALOGUE]), value=st.text(max_size=80))
def test_any_text_is_an_answer_never_a_crash(name: str, value: str) -> None:
    keys = keys_for_dc()
    before = keys.get(name)
    result = keys.change(name, value)
    if result == ChangeResult.REJECTED:
        assert keys.get(name) == before
    else:
        spec = keys.spec(name)
        assert spec.access != Access.R and keys.get(name) is not None


def test_a_check_that_fails_is_a_rejection() -> None:
    def broken(_value: str, _keys: ConfigKeys) -> str | None:
        raise ZeroDivisionError

    keys = ConfigKeys(Store(None), [KeySpec("Broken", KeyType.STR, Access.RW, "x", broken)])
    assert keys.change("Broken", "y") == ChangeResult.REJECTED
    assert keys.get("Broken") == "x"


# --------------------------------------------------------------------------- secrets


def test_authorization_key_is_never_read_back(caplog: pytest.LogCaptureFixture) -> None:
    keys = keys_for_dc()
    caplog.set_level(logging.DEBUG)
    assert keys.change("AuthorizationKey", AUTH_KEY) == ChangeResult.ACCEPTED
    assert keys.change("AuthorizationKey", "tooshort-secret") == ChangeResult.REJECTED
    everything, _ = keys.configuration()
    assert all(e["key"] != "AuthorizationKey" for e in everything)
    assert AUTH_KEY not in repr(everything)
    assert keys.configuration(["AuthorizationKey"]) == ([], ["AuthorizationKey"])
    assert keys.get("AuthorizationKey") == AUTH_KEY  # the link still has it
    assert AUTH_KEY not in caplog.text and "tooshort-secret" not in caplog.text


# --------------------------------------------------------------------------- GetConfiguration


def test_get_configuration_max_keys_refuses_longer_requests() -> None:
    keys = keys_for_dc()
    limit = keys.get_int("GetConfigurationMaxKeys")
    names = [f"Key{i}" for i in range(limit)]
    assert len(keys.configuration(names)[1]) == limit
    with pytest.raises(OccurenceConstraintViolationError):
        keys.configuration([*names, "HeartbeatInterval"])


# --------------------------------------------------------------------------- station keys


@pytest.mark.parametrize("path", [AC_STATION, DC_STATION], ids=["ac", "dc"])
def test_connectors_key_is_single_quoted_json(path: Path) -> None:
    config = load_station(path)
    keys = ConfigKeys(Store(None))
    apply_station(keys, config, None)
    value = keys.get("Connectors")
    assert value is not None and '"' not in value
    parsed = parse_connectors(value)
    assert parsed == {"connectors": [
        {"max_current": int(c.max_current_a), "pos": c.id,
         "type": {"ccs": "CCS", "chademo": "CHAdeMO"}.get(c.kind.value, "CCS_AC")}
        for c in config.connectors
    ]}
    assert connectors_json(config) == value
    assert keys.spec("Connectors").access == Access.R


def test_modem_values_are_read_only_and_set_by_the_firmware() -> None:
    keys = keys_for_dc()
    set_modem_status(keys, rssi_dbm=-71, provider="Example Mobile", standard="4G")
    assert [keys.get(n) for n in ("MobileRSSI", "MobileProvider", "MobileConnectionStandard")] \
        == ["-71", "Example Mobile", "4G"]
    assert keys.change("MobileRSSI", "-50") == ChangeResult.REJECTED
    with pytest.raises(InvalidValue):
        set_modem_status(keys, standard="6G")


def test_identity_and_url_changes_apply_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "station.sqlite"
    keys = keys_for_dc(Store(path))
    config, url = persisted_identity(keys, DC, "ws://127.0.0.1:9000/ocpp")
    assert config.identity.charge_point_id == "EVSE-DC-0001"
    assert url == "ws://127.0.0.1:9000/ocpp"
    assert keys.change("chargePointIdentity", "HYC-RENAMED") == ChangeResult.REBOOT_REQUIRED
    assert keys.change("WebSocketUrl", "ws://10.0.0.5:8180/steve") \
        == ChangeResult.REBOOT_REQUIRED
    keys._store.close()
    keys = keys_for_dc(Store(path))  # the reboot
    config, url = persisted_identity(keys, DC, "ws://127.0.0.1:9000/ocpp")
    assert config.identity.charge_point_id == "HYC-RENAMED"
    assert url == "ws://10.0.0.5:8180/steve"
    assert persisted_identity(keys, DC, None)[1] is None  # standalone stays standalone
    assert split_csl(keys.get("ConnectorsPowerLimit") or "") == ["50000", "50000", "22080"]


def test_a_station_too_big_for_a_cistring500_still_starts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    many = tuple(replace(c, id=i + 1, name=f"Connector number {i + 1:02d} of a row")
                 for i, c in enumerate(DC.connectors * 7))  # 21 connectors
    keys = ConfigKeys(Store(None))
    apply_station(keys, replace(DC, connectors=many), None)
    assert keys.get("NumberOfConnectors") == "21"
    assert len(split_csl(keys.get("ConnectorsPowerLimit") or "")) == 21
    assert keys.get("Connectors") == "{'connectors':[]}"  # 21 entries do not fit in 500
    assert "Connectors left as it was" in caplog.text
    assert keys.get("GUIconnectorLabels") == ""  # 21 labels of 31 characters neither
