"""What a configuration key is: its type, access, check and limits, and the one-line
declarations the catalogue is written in::

    int_key("HeartbeatInterval", 1800, minimum=0)

Every key of the station is declared with these in :mod:`firmware.ocpp.keys_catalog`;
:class:`firmware.ocpp.keys.ConfigKeys` keeps their values. Values are the strings that
travel on the wire ("true"/"false" for booleans, decimal integers, comma-separated lists).
This module knows neither the catalogue nor the registry: both depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from firmware.errors import FirmwareError

MAX_VALUE_LENGTH = 500  # ChangeConfiguration / GetConfiguration value: CiString500


class KeyType(StrEnum):
    BOOL = "boolean"
    INT = "integer"
    CSL = "CSL"
    STR = "string"


class Access(StrEnum):
    R = "R"  # read-only: set by the firmware, ChangeConfiguration gets Rejected
    RW = "RW"
    W = "W"  # write-only: never returned by GetConfiguration (AuthorizationKey)


class InvalidValue(FirmwareError, ValueError):
    """A value a key does not accept."""


class KeyValues(Protocol):
    """What a key's check may read of the other keys: a ``*MaxLength`` companion,
    NumberOfConnectors. :class:`firmware.ocpp.keys.ConfigKeys` is one."""

    def known(self, name: str) -> bool: ...

    def get(self, name: str) -> str | None: ...

    def get_int(self, name: str, default: int = 0) -> int: ...


# A check gets the canonical value and the other keys (for *MaxLength companions) and
# returns a reason when the value is not acceptable.
Check = Callable[[str, KeyValues], str | None]


@dataclass(frozen=True)
class KeySpec:
    """One configuration key. The fields after ``profile`` describe the limits the check
    enforces (for documentation and tests; the check is what decides)."""

    name: str
    type: KeyType
    access: Access
    default: str | None  # None: no value until one is set
    check: Check | None = None
    reboot_required: bool = False
    profile: str = "Core"
    minimum: int | None = None  # INT, and each member of an integer CSL
    maximum: int | None = None
    max_length: int | None = None  # STR: characters; CSL: characters of one member
    allowed: tuple[str, ...] | None = None  # STR: the values; CSL: the members
    max_length_key: str | None = None  # CSL: the key holding the maximum member count
    secret: bool = False  # never in a log line (AuthorizationKey, passwords, PINs)


# --------------------------------------------------------------------------- declarations


def bool_key(
    name: str,
    default: bool,
    access: Access = Access.RW,
    *,
    reboot_required: bool = False,
    profile: str = "Core",
) -> KeySpec:
    value = "true" if default else "false"
    return KeySpec(name, KeyType.BOOL, access, value, None, reboot_required, profile)


def int_key(
    name: str,
    default: int | None,
    access: Access = Access.RW,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    reboot_required: bool = False,
    profile: str = "Core",
    check: Check | None = None,
) -> KeySpec:
    """An integer within ``minimum``..``maximum``; ``check`` adds a rule of its own."""

    def in_range(value: str, keys: KeyValues) -> str | None:
        n = int(value)
        if minimum is not None and n < minimum:
            return f"below {minimum}"
        if maximum is not None and n > maximum:
            return f"above {maximum}"
        return check(value, keys) if check is not None else None

    return KeySpec(
        name,
        KeyType.INT,
        access,
        None if default is None else str(default),
        in_range,
        reboot_required,
        profile,
        minimum=minimum,
        maximum=maximum,
    )


def csl_key(
    name: str,
    default: str | None,
    allowed: Collection[str] | None = None,
    access: Access = Access.RW,
    *,
    max_length_key: str | None = None,
    max_members: int | None = None,
    member_pattern: str | None = None,
    member_max_length: int | None = None,
    integer_members: tuple[int, int] | None = None,
    reboot_required: bool = False,
    profile: str = "Core",
    check: Check | None = None,
) -> KeySpec:
    """A comma-separated list. Members come from ``allowed`` (None: anything that matches
    ``member_pattern`` / is an integer within ``integer_members``); there are at most as
    many as the integer key ``max_length_key`` says (or ``max_members``); ``check`` adds a
    rule about the whole list."""
    pattern = re.compile(member_pattern) if member_pattern is not None else None

    def check_list(value: str, keys: KeyValues) -> str | None:
        members = split_csl(value)
        if allowed is not None:
            bad = [m for m in members if m not in allowed]
            if bad:
                return f"not supported: {', '.join(bad)}"
        if pattern is not None:
            bad = [m for m in members if not pattern.fullmatch(m)]
            if bad:
                return f"wrong format: {', '.join(bad)}"
        if member_max_length is not None and any(len(m) > member_max_length for m in members):
            return f"a member is longer than {member_max_length} characters"
        if integer_members is not None:
            low, high = integer_members
            for m in members:
                if not re.fullmatch(r"[+-]?\d{1,10}", m):
                    return f"{m!r} is not an integer"
                if not low <= int(m) <= high:
                    return f"{m} not in {low}..{high}"
        if allowed is not None and len(set(members)) != len(members):
            return "duplicate members"
        limit = max_members
        if max_length_key is not None and keys.known(max_length_key):
            limit = keys.get_int(max_length_key)
        if limit is not None and len(members) > limit:
            return f"more than {max_length_key or 'the maximum'} = {limit} members"
        return check(value, keys) if check is not None else None

    return KeySpec(
        name,
        KeyType.CSL,
        access,
        default,
        check_list,
        reboot_required,
        profile,
        minimum=integer_members[0] if integer_members else None,
        maximum=integer_members[1] if integer_members else None,
        max_length=member_max_length,
        allowed=tuple(allowed) if allowed is not None else None,
        max_length_key=max_length_key,
    )


def str_key(
    name: str,
    default: str | None,
    access: Access = Access.RW,
    *,
    min_length: int = 0,
    max_length: int = MAX_VALUE_LENGTH,
    pattern: str | None = None,
    allowed: Collection[str] | None = None,
    reboot_required: bool = False,
    profile: str = "Core",
    secret: bool = False,
    check: Check | None = None,
) -> KeySpec:
    """A string of ``min_length``..``max_length`` characters matching ``pattern``; with
    ``allowed``, one of those values (matched case-insensitively, kept as declared)."""
    regex = re.compile(pattern) if pattern is not None else None

    def check_text(value: str, keys: KeyValues) -> str | None:
        if not min_length <= len(value) <= max_length:
            return f"length not in {min_length}..{max_length}"
        if allowed is not None and value not in allowed:
            return f"not one of {', '.join(allowed)}"
        if regex is not None and not regex.fullmatch(value):
            return "wrong format"
        return check(value, keys) if check is not None else None

    return KeySpec(
        name,
        KeyType.STR,
        access,
        default,
        check_text,
        reboot_required,
        profile,
        max_length=max_length,
        allowed=tuple(allowed) if allowed is not None else None,
        secret=secret,
    )


def split_csl(value: str) -> list[str]:
    return [m.strip() for m in value.split(",") if m.strip()]


# The measurands the metering module can sample (see metering.py).
SAMPLED_MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "Frequency",
    "Current.Offered",
    "Power.Offered",
    "SoC",
    "Temperature",
)
