"""Hardware-abstraction layer: one interface per hardware role, real drivers behind them.

Drivers never know whether they run on a board or in the simulator: they receive the
bottom-most I/O objects (a gpiozero pin factory, an SMBus-like object, a serial port name,
a python-can bus) from a :class:`drivers.wiring.Wiring`, and ``hal_sim`` hands in simulated
ones.
"""
