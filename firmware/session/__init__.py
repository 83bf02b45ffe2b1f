"""The pure state machines of a connector: pilot detection and the AC / DC session. No I/O,
no asyncio.
"""
