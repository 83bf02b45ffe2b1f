"""The station: its connectors, devices, supervision, operations and status snapshots."""
