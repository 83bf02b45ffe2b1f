"""The board package stands alone: nothing in ``firmware`` or ``drivers`` needs ``hal_sim``.

Each check runs a child Python in which ``import hal_sim`` fails, as on a board where the
simulator is not installed (``sys.modules["hal_sim"] = None``). The entry points of this
development install still name the simulator's command and drivers there, so the child
also shows that a plugin that cannot be imported is left out, not fatal.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys

from tests.support.paths import ROOT, SIM_STATIONS, TEST_STATIONS

BLOCK_SIM = """
import sys
sys.modules["hal_sim"] = None  # every `import hal_sim...` raises ImportError from here on
try:
    import hal_sim.runner
except ImportError:
    pass
else:
    raise SystemExit("hal_sim is still importable: the check proves nothing")
"""

IMPORT_ALL = BLOCK_SIM + """
import importlib
import pkgutil

import drivers
import firmware

for package in (firmware, drivers):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
        print(info.name)
loaded = sorted(name for name, module in sys.modules.items()
                if name.split(".")[0] == "hal_sim" and module is not None)
print("hal_sim modules loaded:", loaded)
"""

EVSE = BLOCK_SIM + """
from firmware.app.cli import main

sys.exit(main(sys.argv[1:]))
"""


def _child(script: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


def test_every_module_of_firmware_and_drivers_imports_without_the_simulator() -> None:
    child = _child(IMPORT_ALL)
    assert child.returncode == 0, child.stderr
    imported = child.stdout.splitlines()
    assert imported[-1] == "hal_sim modules loaded: []"
    for module in ("firmware.app.runtime", "firmware.app.cli", "firmware.station.station",
                   "firmware.ocpp.link", "drivers.registry", "drivers.pilot"):
        assert module in imported
    assert len(imported) > 80  # the whole tree, not a package that failed to list


def test_evse_offers_run_and_config_but_not_sim() -> None:
    child = _child(EVSE, "--help")
    assert child.returncode == 0, child.stderr
    assert "{run,config}" in child.stdout
    assert "evse sim is not available" in child.stderr  # the entry point that cannot load

    child = _child(EVSE, "sim")
    assert child.returncode == 2
    assert "invalid choice: 'sim'" in child.stderr

    child = _child(EVSE, "run", "--help")
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("usage: evse run [-h] --station STATION")


def test_config_check_of_a_board_station_without_the_simulator() -> None:
    child = _child(EVSE, "config", "check", str(TEST_STATIONS / "ac_test.toml"))
    assert child.returncode == 0, child.stderr
    assert child.stdout.endswith(": OK (2 connectors, EVSE-AC-0001)\n"), child.stdout


def test_a_station_with_simulated_drivers_is_refused_clearly_without_the_simulator() -> None:
    dc = SIM_STATIONS / "dc.toml"
    child = _child(EVSE, "config", "check", str(dc))
    assert child.returncode == 1
    assert f"{dc}: connectors[1].ev_comm.driver: driver 'sim' for ev_comm " \
           "cannot be loaded: " in child.stderr


# --------------------------------------------------------------------------- the source

SIM_NAME = re.compile(r"^hal_sim(?:[.:]|$)")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (they may name hal_sim)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def simulator_names(source: str) -> list[tuple[int, str]]:
    """(line, name) of every import of ``hal_sim`` in ``source`` (at any depth, inside
    functions too) and every string that names one of its modules (an import path handed
    to importlib, a registry entry); docstrings may mention it."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings):
            names = [node.value]
        else:
            continue
        found.extend((node.lineno, name) for name in names if SIM_NAME.match(name))
    return sorted(found)


def test_no_module_of_firmware_or_drivers_names_the_simulator() -> None:
    """Also the imports the children above cannot see: inside functions, or as strings."""
    sources = sorted((ROOT / "firmware").rglob("*.py")) + sorted((ROOT / "drivers").rglob("*.py"))
    assert len(sources) > 80
    uses = [f"{path.relative_to(ROOT)}:{line}: {name}"
            for path in sources
            for line, name in simulator_names(path.read_text(encoding="utf-8"))]
    assert uses == []


def test_the_source_check_finds_lazy_imports_and_import_paths() -> None:
    source = (
        '"""Docstrings may say hal_sim.runner."""\n'
        "def f():\n"
        '    """Here too: hal_sim."""\n'
        "    from hal_sim.runner import SimulatedStation\n"
        "    import hal_sim\n"
        "    return {'x': 'hal_sim.dc_devices:SimImd', 'y': 'not hal_sim'}\n"
    )
    assert simulator_names(source) == [
        (4, "hal_sim.runner"), (5, "hal_sim"), (6, "hal_sim.dc_devices:SimImd"),
    ]
