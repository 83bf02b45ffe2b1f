"""OCPP 1.6J client: one module per feature profile.

* ``link``: connection, reconnect, boot, heartbeat, status (:class:`OcppLink`)
* ``rpc``: OCPP-J message layer (one outstanding CALL, schema checks, CallErrors)
* ``core``: Core profile handlers; ``trigger``: RemoteTrigger profile
* ``local_list``: LocalAuthListManagement profile; ``reservation``: Reservation profile
* ``status``: StatusNotification (current status on connect, MinimumStatusDuration)
* ``transactions``: the persistent transaction message queue; ``metering``: MeterValues
* ``keys``: configuration key registry; ``keys_catalog``: every key of the DC manual ch. 5

A later profile adds a module with a class that has ``name`` and ``install(router)`` and is
installed with ``link.install(Profile(link))``; core and link need no change.
"""

from firmware.ocpp.keys import ChangeResult, ConfigKeys, InvalidValue, KeySpec
from firmware.ocpp.link import Backoff, OcppLink

__all__ = ["Backoff", "ChangeResult", "ConfigKeys", "InvalidValue", "KeySpec", "OcppLink"]
