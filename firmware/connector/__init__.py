"""Per-connector control: the controller (I/O glue), its checks, DC control and cable
supervision.
"""
