"""EVSE controller firmware: charging logic, safety, OCPP, persistence, web interface."""

__version__ = "0.1.0"
