"""The safety path: one gate for closing contactors, one safe path, the fault catalogue and
the active faults.
"""
