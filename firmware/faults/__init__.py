"""Fault catalogue: the vendor error codes of the AC and DC lists, as data.

``default_catalogue()`` gives the packaged, checked catalogue; detection code asks it
``for_condition(Condition.X, dc=...)`` and reports the returned :class:`FaultDef`.
"""

from firmware.faults.catalogue import (
    AC_CODES,
    DC_CODES,
    EV_COMM_CONDITIONS,
    OCPP16_ERROR_CODES,
    REQUIRED_LANGUAGES,
    Catalogue,
    CatalogueError,
    Condition,
    ConditionMap,
    Effect,
    FaultDef,
    Recovery,
    Scope,
    Source,
    default_catalogue,
    load_catalogue,
)

__all__ = [
    "AC_CODES",
    "DC_CODES",
    "EV_COMM_CONDITIONS",
    "OCPP16_ERROR_CODES",
    "REQUIRED_LANGUAGES",
    "Catalogue",
    "CatalogueError",
    "Condition",
    "ConditionMap",
    "Effect",
    "FaultDef",
    "Recovery",
    "Scope",
    "Source",
    "default_catalogue",
    "load_catalogue",
]
