"""The station's HTTP server: the status API and the local web page."""

from firmware.http.server import RunningServer, StationView, make_app, serve

__all__ = ["RunningServer", "StationView", "make_app", "serve"]
