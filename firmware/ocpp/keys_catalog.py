"""Every configuration key of the DC manual chapter 5, declared once.

Sections follow the manual: 5.1.1 Core, 5.1.2 Local Auth List Management, 5.1.3
Reservation, 5.1.4 Smart Charging, 5.1.5 Security, 5.1.6 hypercharger-specific keys.
Accessibility, type and RebootRequired are the manual's; defaults are the values of its
OCPP File screenshots (4.3.1) except where those are one site's settings or would change
tested OCPP behaviour (each such default says why). Keys the manual marks "not supported"
exist, validate and persist here; their behaviour lives with the module that owns it.

Keys whose value comes from the station, not from a constant, get it from
:func:`apply_station` at start-up: NumberOfConnectors, Connectors (read-only) and the
defaults of chargePointIdentity, WebSocketUrl, MaxGridPower, GridFallbackPower,
ConnectorsPowerLimit, ConnectorPhaseRotation and GUIconnectorLabels (read-write: a value
set by the central system wins, also after a restart). The modem fills in MobileRSSI,
MobileProvider and MobileConnectionStandard with :func:`set_modem_status`.

The manual's own spellings that differ from OCPP or contradict it, and what is used here:
``AllowOfflineTxUnknownId`` / ``ConfigurationMaxKeys`` / ``ConnectorPowerLimit`` /
``AutoCharge`` (screenshot labels) are AllowOfflineTxForUnknownId / GetConfigurationMaxKeys
/ ConnectorsPowerLimit / AutochargeEnabled (chapter 5); LocalAuthListMaxLength and
SendLocalListMaxLength are read-only integers (OCPP 1.6; the manual's table says RW
boolean); the two "CertificateSignedMaxChain" entries are the security whitepaper's
CertificateSignedMaxChainSize and CertificateStoreMaxLength (their descriptions);
"GUltimeRemainingVisible" is GUItimeRemainingVisible (the table of contents).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from typing import Any, Protocol

from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from firmware.config.load import CHARGE_POINT_ID
from firmware.config.model import ConnectorConfig, ConnectorKind, StationConfig
from firmware.ocpp.key_specs import (
    SAMPLED_MEASURANDS,
    Access,
    InvalidValue,
    KeySpec,
    KeyValues,
    bool_key,
    csl_key,
    int_key,
    split_csl,
    str_key,
)

logger = logging.getLogger(__name__)

R = Access.R
W = Access.W

ENERGY = "Energy.Active.Import.Register"
FEATURE_PROFILES = (
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
)
PHASE_ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")
MOBILE_STANDARDS = ("", "2G", "3G", "4G", "5G")
MAX_POWER_W = 10_000_000  # 10 MW: above any station (MaxGridPower, fallback, connectors)
NOMINAL_AC_VOLTAGE_V = 230.0
# Connectors key: connector types as the manual spells them (5.1.6.23).
CONNECTOR_TYPES: dict[ConnectorKind, str] = {
    ConnectorKind.CCS: "CCS",
    ConnectorKind.CHADEMO: "CHAdeMO",
    ConnectorKind.TYPE2_SOCKET: "CCS_AC",
    ConnectorKind.TYPE2_CABLE: "CCS_AC",
}


# --------------------------------------------------------------------------- checks


def _connector_count(keys: KeyValues) -> int:
    return keys.get_int("NumberOfConnectors", 1)


def _one_per_connector(value: str, keys: KeyValues) -> str | None:
    n = _connector_count(keys)
    if len(split_csl(value)) != n:
        return f"needs one value per connector ({n})"
    return None


def _at_most_one_per_connector(value: str, keys: KeyValues) -> str | None:
    n = _connector_count(keys)
    if len(split_csl(value)) > n:
        return f"more members than connectors ({n})"
    return None


def _phase_rotation(value: str, keys: KeyValues) -> str | None:
    seen: set[int] = set()
    n = _connector_count(keys)
    for member in split_csl(value):
        index, _, rotation = member.partition(".")
        if not index.isdigit() or rotation not in PHASE_ROTATIONS:
            return f"{member!r} is not <connector>.<rotation>"
        if int(index) > n:
            return f"no connector {index}"
        if int(index) in seen:
            return f"connector {index} listed twice"
        seen.add(int(index))
    return None


def _websocket_url(value: str, _keys: KeyValues) -> str | None:
    try:
        parse_uri(value)
    except InvalidURI as e:
        return str(e)
    return None


def _ip_address(value: str, _keys: KeyValues) -> str | None:
    if value == "":
        return None  # unset: the mobile network's DNS server
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "not an IP address"
    return None


def _security_profile(value: str, keys: KeyValues) -> str | None:
    """Security whitepaper: only upwards, and only when the new profile can work."""
    new = int(value)
    if new < keys.get_int("SecurityProfile"):
        return "the security profile can only be raised"
    if new >= 1 and not keys.get("AuthorizationKey"):
        return "profiles 1 and 2 need an AuthorizationKey"
    if new >= 2 and not (keys.get("WebSocketUrl") or "").lower().startswith("wss://"):
        return "profile 2 needs a wss:// WebSocketUrl"
    if new >= 3:
        return "profile 3 needs a client certificate, and certificates are not supported"
    return None


# --------------------------------------------------------------------------- the catalogue

CORE: tuple[KeySpec, ...] = (  # 5.1.1
    bool_key("AllowOfflineTxForUnknownId", False),
    bool_key("AuthorizationCacheEnabled", False),
    bool_key("AuthorizeRemoteTxRequests", False),
    int_key("BlinkRepeat", 10, minimum=0, maximum=1000),  # manual: not supported
    # Screenshot: 900. Kept 0 (no clock-aligned data) so that a station does not send
    # MeterValues at every quarter hour unless the central system asks for them.
    int_key("ClockAlignedDataInterval", 0, minimum=0, maximum=86400),
    int_key("ConnectionTimeOut", 30, minimum=1),
    csl_key("ConnectorPhaseRotation", "0.Unknown", access=Access.RW,
            max_length_key="ConnectorPhaseRotationMaxLength", check=_phase_rotation),
    int_key("ConnectorPhaseRotationMaxLength", 5, R),
    int_key("GetConfigurationMaxKeys", 240, R),
    int_key("HeartbeatInterval", 1800, minimum=0),
    int_key("LightIntensity", 50, minimum=0, maximum=100),  # percent; manual: not supported
    bool_key("LocalAuthorizeOffline", True),
    bool_key("LocalPreAuthorize", True),
    int_key("MaxEnergyOnInvalidId", 0, minimum=0),  # Wh; manual: not supported
    csl_key("MeterValuesAlignedData", ENERGY, SAMPLED_MEASURANDS,
            max_length_key="MeterValuesAlignedDataMaxLength"),
    # Screenshot: 6, 6, 6 and 2 (that charger's sampler); ours samples all nine.
    int_key("MeterValuesAlignedDataMaxLength", len(SAMPLED_MEASURANDS), R),
    # Screenshot: "Energy.Active.Import.Regis…" (cut off). The five measurands every
    # connector has, so a central system sees power and current without asking.
    csl_key("MeterValuesSampledData",
            "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC",
            SAMPLED_MEASURANDS, max_length_key="MeterValuesSampledDataMaxLength"),
    int_key("MeterValuesSampledDataMaxLength", len(SAMPLED_MEASURANDS), R),
    int_key("MeterValueSampleInterval", 30, minimum=0),
    # Screenshot: 1. Kept 0: a held status hides short ones (Preparing between plug and
    # card) that the compliance tests expect to see; manual: not supported.
    int_key("MinimumStatusDuration", 0, minimum=0, maximum=3600),
    int_key("NumberOfConnectors", 1, R),
    int_key("ResetRetries", 3, minimum=0, maximum=100),
    bool_key("StopTransactionOnEVSideDisconnect", True),  # manual: not supported
    bool_key("StopTransactionOnInvalidId", True),
    csl_key("StopTxnAlignedData", ENERGY, SAMPLED_MEASURANDS,
            max_length_key="StopTxnAlignedDataMaxLength"),
    int_key("StopTxnAlignedDataMaxLength", len(SAMPLED_MEASURANDS), R),
    csl_key("StopTxnSampledData", ENERGY, SAMPLED_MEASURANDS,
            max_length_key="StopTxnSampledDataMaxLength"),
    int_key("StopTxnSampledDataMaxLength", len(SAMPLED_MEASURANDS), R),
    # Filled in by the link as profiles are installed.
    csl_key("SupportedFeatureProfiles", "Core", FEATURE_PROFILES, R,
            max_length_key="SupportedFeatureProfilesMaxLength"),
    # Screenshot: 5 (that charger has five profiles); six exist.
    int_key("SupportedFeatureProfilesMaxLength", len(FEATURE_PROFILES), R),
    int_key("TransactionMessageAttempts", 1, minimum=1, maximum=100),
    int_key("TransactionMessageRetryInterval", 1, minimum=0),
    bool_key("UnlockConnectorOnEVSideDisconnect", True),
    int_key("WebSocketPingInterval", 120, minimum=0),
)

LOCAL_AUTH_LIST: tuple[KeySpec, ...] = (  # 5.1.2
    bool_key("LocalAuthListEnabled", True, profile="LocalAuthListManagement"),
    int_key("LocalAuthListMaxLength", 100, R, profile="LocalAuthListManagement"),
    int_key("SendLocalListMaxLength", 10, R, profile="LocalAuthListManagement"),
)

RESERVATION: tuple[KeySpec, ...] = (  # 5.1.3
    # Manual: not supported. Reservations of connector 0 are cheap to do right (the next
    # connector to become free is held): the reservation module honours this key.
    bool_key("ReserveConnectorZeroSupported", True, R, profile="Reservation"),
)

SMART_CHARGING: tuple[KeySpec, ...] = (  # 5.1.4
    # Screenshot: 0, 1 and 0 (smart charging "not supported" there). These are the limits
    # a smart-charging module works within; the module may change them.
    int_key("ChargeProfileMaxStackLevel", 8, R, profile="SmartCharging"),
    csl_key("ChargingScheduleAllowedChargingRateUnit", "Current,Power", ("Current", "Power"),
            R, profile="SmartCharging"),
    int_key("ChargingScheduleMaxPeriods", 24, R, profile="SmartCharging"),
    bool_key("ConnectorSwitch3to1PhaseSupported", False, R, profile="SmartCharging"),
    int_key("MaxChargingProfilesInstalled", 16, R, profile="SmartCharging"),
)

SECURITY: tuple[KeySpec, ...] = (  # 5.1.5
    # HTTP Basic password: 16 to 40 characters (up to 20 bytes as hex); write-only.
    str_key("AuthorizationKey", None, W, min_length=16, max_length=40, profile="Security",
            secret=True),
    int_key("CertificateSignedMaxChainSize", 10000, R, profile="Security"),
    int_key("CertificateStoreMaxLength", 10, R, profile="Security"),
    str_key("CpoName", None, max_length=50, profile="Security"),
    int_key("SecurityProfile", 0, minimum=0, maximum=3, profile="Security",
            check=_security_profile),
)

_HYC = "Hypercharger"


def _gui_flag(name: str, default: bool, *, reboot: bool = True) -> KeySpec:
    return bool_key(name, default, reboot_required=reboot, profile=_HYC)


HYPERCHARGER: tuple[KeySpec, ...] = (  # 5.1.6
    str_key("WebSocketUrl", None, max_length=500, check=_websocket_url,
            reboot_required=True, profile=_HYC),
    # Screenshot: true with two tag ids, one site's free-charging setup; kiosk mode on by
    # default would let anybody charge.
    bool_key("HycKioskModeEnabled", False, profile=_HYC),
    csl_key("HycKioskModeTagIds", "", member_max_length=20, profile=_HYC),  # IdToken
    str_key("SimPin", None, pattern=r"(\d{4,8})?", reboot_required=True, profile=_HYC,
            secret=True),
    str_key("APN", None, max_length=100, pattern=r"([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*)?",
            reboot_required=True, profile=_HYC),
    str_key("ApnUsername", None, max_length=64, reboot_required=True, profile=_HYC),
    str_key("ApnPassword", None, max_length=64, reboot_required=True, profile=_HYC,
            secret=True),
    str_key("DnsServer", None, max_length=45, check=_ip_address, profile=_HYC),
    str_key("SecondaryDnsServer", None, max_length=45, check=_ip_address, profile=_HYC),
    _gui_flag("GUIchargingCurrentVisible", True),
    _gui_flag("GUIchargingVoltageVisible", True),
    _gui_flag("GUIchargingPowerVisible", True),
    _gui_flag("GUItimeRemainingVisible", True),
    _gui_flag("GUIchargeParameterOverlayVisible", False),
    str_key("GUIprimaryLanguage", "en", max_length=2, pattern=r"[A-Za-z]{2}",
            reboot_required=True, profile=_HYC),
    str_key("GUIsecondaryLanguage", "de", max_length=2, pattern=r"[A-Za-z]{2}",
            reboot_required=True, profile=_HYC),
    str_key("GUItertiaryLanguage", "it", max_length=2, pattern=r"[A-Za-z]{2}",
            reboot_required=True, profile=_HYC),
    int_key("GUIslideTime", 10, minimum=0, maximum=3600, reboot_required=True, profile=_HYC),
    int_key("GUIChargingSessionScreenTimeout", 60, minimum=0, maximum=3600, profile=_HYC),
    int_key("MaxGridPower", 44000, minimum=1, maximum=MAX_POWER_W, reboot_required=True,
            profile=_HYC),  # W; default: the station file's max_grid_power_w
    bool_key("ChargePointMaxProfileEnabled", True, reboot_required=True, profile=_HYC),
    str_key("chargePointIdentity", None, max_length=48, pattern=CHARGE_POINT_ID.pattern,
            reboot_required=True, profile=_HYC),
    str_key("Connectors", "{'connectors':[]}", R, profile=_HYC),
    csl_key("ConnectorsPowerLimit", None, integer_members=(0, MAX_POWER_W),
            check=_one_per_connector, reboot_required=True, profile=_HYC),
    str_key("MobileRSSI", None, R, max_length=20, pattern=r"(-?\d{1,3}( ?dBm)?)?",
            profile=_HYC),
    str_key("MobileProvider", None, R, max_length=50, profile=_HYC),
    str_key("MobileConnectionStandard", None, R, allowed=MOBILE_STANDARDS, profile=_HYC),
    # Unavailable, Available, Occupied, Finished, Faulted.
    csl_key("GUIConnectorHolderColors", "#808080,#00FF00,#0000FF,#00FFFF,#FF0000",
            member_pattern=r"#[0-9A-Fa-f]{6}", max_members=5, profile=_HYC,
            check=lambda v, _k: None if len(split_csl(v)) == 5 else "needs five colours"),
    # The manual types it "string"; it is a power in W like MaxGridPower. Default: the
    # station's MaxGridPower (the screenshot's 280000 is that site's).
    int_key("GridFallbackPower", 44000, minimum=0, maximum=MAX_POWER_W,
            reboot_required=True, profile=_HYC),
    int_key("GridFallbackTimeout", 5, minimum=1, maximum=3600, reboot_required=True,
            profile=_HYC),
    bool_key("ModbusLoadManagementEnabled", False, reboot_required=True, profile=_HYC),
    str_key("ChargingStrategy", "FCFS", allowed=("FCFS", "FAIR"), reboot_required=True,
            profile=_HYC),
    bool_key("AutochargeEnabled", False, reboot_required=True, profile=_HYC),
    bool_key("RemoteTxStoppableLocally", True, profile=_HYC),
    bool_key("KioskModeWhenOffline", False, profile=_HYC),
    _gui_flag("GUIchargePointIdVisible", True),
    _gui_flag("GUIconnectorPowerVisible", True),
    _gui_flag("GUIconnectorLabelsVisible", False),
    csl_key("GUIconnectorLabels", "", member_max_length=32, check=_at_most_one_per_connector,
            reboot_required=True, profile=_HYC),
    bool_key("ChargePointModelLegacyMode", False, reboot_required=True, profile=_HYC),
)

CATALOGUE: tuple[KeySpec, ...] = (
    *CORE, *LOCAL_AUTH_LIST, *RESERVATION, *SMART_CHARGING, *SECURITY, *HYPERCHARGER
)


# --------------------------------------------------------------------------- the station's


class StationKeys(KeyValues, Protocol):
    """The keys the station's own values go into (:class:`firmware.ocpp.keys.ConfigKeys`
    is one; the catalogue does not import it, the registry imports the catalogue)."""

    def set_readonly(self, name: str, value: str) -> None: ...

    def set_default(self, name: str, value: str) -> None: ...

    def reload(self) -> None: ...


def connector_power_w(c: ConnectorConfig) -> int:
    """A connector's rated power: DC max_power_w (or V × A), AC 230 V × A × phases."""
    if c.is_dc:
        if c.max_power_w is not None:
            return round(c.max_power_w)
        return round((c.max_voltage_v or 0.0) * c.max_current_a)
    return round(NOMINAL_AC_VOLTAGE_V * c.max_current_a * c.phases)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def connectors_json(config: StationConfig) -> str:
    """The Connectors key (5.1.6.23): the JSON of the manual with single quotes."""
    data = {
        "connectors": [
            {"max_current": _number(c.max_current_a), "pos": c.id, "type": CONNECTOR_TYPES[c.kind]}
            for c in config.connectors
        ]
    }
    return json.dumps(data, separators=(",", ":")).replace('"', "'")


def parse_connectors(value: str) -> dict[str, Any]:
    """The Connectors key as the manual tells a central system to read it."""
    parsed: dict[str, Any] = json.loads(value.replace("'", '"'))
    return parsed


def phase_rotation_default(config: StationConfig) -> str:
    """RST (standard reference phasing) for three-phase AC connectors, NotApplicable for
    single-phase and DC ones; the grid connection (0) is not known."""
    members = [
        f"{c.id}.{'RST' if not c.is_dc and c.phases == 3 else 'NotApplicable'}"
        for c in config.connectors
    ]
    return ",".join(members)


def apply_station(keys: StationKeys, config: StationConfig, csms_url: str | None) -> None:
    """Fill in the keys that come from the station file (call once, at start-up, before
    the link is built): read-only values are set, read-write ones get their default
    unless the central system (or ``--set-key``) set them before. A value a key cannot
    hold (a CiString500 overflow with very many connectors) is logged and left out."""
    n = len(config.connectors)
    grid = str(round(config.max_grid_power_w))
    labels = [c.name for c in config.connectors]
    readonly = {
        "NumberOfConnectors": str(n),
        "ConnectorPhaseRotationMaxLength": str(n + 1),  # 0 (the grid) + each connector
        "Connectors": connectors_json(config),
    }
    defaults = {
        "MaxGridPower": grid,
        "GridFallbackPower": grid,
        "chargePointIdentity": config.identity.charge_point_id,
        "WebSocketUrl": csms_url,
        "ConnectorsPowerLimit": ",".join(str(connector_power_w(c)) for c in config.connectors),
        "ConnectorPhaseRotation": phase_rotation_default(config),
        # Only when every connector has a name that fits a CSL member.
        "GUIconnectorLabels": ",".join(labels) if all(
            re.fullmatch(r"[\x20-\x2b\x2d-\x7e]{1,32}", x) for x in labels) else None,
    }
    for name, value in readonly.items():
        try:
            keys.set_readonly(name, value)
        except InvalidValue as e:
            logger.error("configuration key %s left as it was: %s", name, e)
    for name, default in defaults.items():
        if default is None:
            continue
        try:
            keys.set_default(name, default)
        except InvalidValue as e:
            logger.error("configuration key %s: no default from the station: %s", name, e)
    keys.reload()  # persisted values that depend on NumberOfConnectors


def set_modem_status(
    keys: StationKeys,
    *,
    rssi_dbm: int | None = None,
    provider: str | None = None,
    standard: str | None = None,
) -> None:
    """What the modem reports (MobileRSSI / MobileProvider / MobileConnectionStandard);
    ``None`` leaves a value as it is. Raises :class:`~firmware.ocpp.key_specs.InvalidValue`."""
    if rssi_dbm is not None:
        keys.set_readonly("MobileRSSI", str(rssi_dbm))
    if provider is not None:
        keys.set_readonly("MobileProvider", provider[:50])
    if standard is not None:
        keys.set_readonly("MobileConnectionStandard", standard)
