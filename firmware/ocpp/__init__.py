"""OCPP 1.6J client: one module per feature profile.

* ``link``: connection, reconnect, boot, heartbeat, status (:class:`OcppLink`, the
  :class:`~firmware.ports.CentralSystemLink`)
* ``profile``: what a feature profile is (:class:`~firmware.ocpp.profile.Profile`) and what
  it may ask of the link (:class:`~firmware.ocpp.profile.LinkServices`)
* ``rpc``: OCPP-J message layer (one outstanding CALL, schema checks, CallErrors)
* ``core_profile``: Core profile handlers; ``trigger_profile``: RemoteTrigger profile
* ``local_list_profile``: LocalAuthListManagement; ``reservation_profile``: Reservation
* ``status_notifications``: StatusNotification (current status on connect,
  MinimumStatusDuration)
* ``transactions``: the persistent transaction message queue; ``metering``: MeterValues
* ``key_specs``: what a configuration key is and how one is declared; ``keys_catalog``:
  every key of the DC manual ch. 5; ``keys``: the registry of a station's key values

A later profile adds a module with a class that has ``name`` and ``install(router)`` and
takes the capability ports it needs (:mod:`firmware.ports`) in its constructor; the
assembly installs it with ``link.install(...)`` (``install_profiles`` in
:mod:`firmware.app.runtime`). Link and the other profiles need no change.
"""

from firmware.ocpp.key_specs import InvalidValue, KeySpec
from firmware.ocpp.keys import ChangeResult, ConfigKeys
from firmware.ocpp.link import Backoff, OcppLink

__all__ = ["Backoff", "ChangeResult", "ConfigKeys", "InvalidValue", "KeySpec", "OcppLink"]
