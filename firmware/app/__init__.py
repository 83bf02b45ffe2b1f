"""The runtime: the ``evse`` command, the station runtime and its assembly, systemd notify,
GC policy.
"""
