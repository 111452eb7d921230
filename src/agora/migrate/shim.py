"""Write ``metta/cogworks/curriculum``: modules that re-export agora's names and warn.

For code that cannot be migrated at once (another team's package, pickled objects): put
the folder on ``sys.path`` and the old imports keep working, each old module warning
``DeprecationWarning`` once, when it is first imported. The names are resolved lazily, so
``CurriculumEnv`` needs PufferLib only when it is used.
"""

from __future__ import annotations

from pathlib import Path

from agora.migrate.names import OLD_MODULES, OLD_PACKAGE, target

__all__ = ["write_shim"]

_TEMPLATE = '''"""Deprecated: ``{module}`` is now agora (written by ``agora migrate --shim``).

Run ``agora migrate PATH --write`` to import from agora directly.
"""

import importlib
import warnings
from typing import Any

warnings.warn(  # stacklevel 2 is the importing line: warnings skips the import machinery's frames
    "{module} is deprecated: its names live in agora now "
    "(`agora migrate PATH --write` rewrites the imports)",
    DeprecationWarning,
    stacklevel=2,
)

_NAMES = {names}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
    module, attr = _NAMES[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
'''


def write_shim(folder: str | Path) -> list[Path]:
    """Write the shim package under ``folder`` (``metta`` and ``metta.cogworks`` are namespace
    packages, so they merge with any other ``metta`` on the path) and return the files written."""
    root = Path(folder, *OLD_PACKAGE.split("."))
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for module, (_, names) in OLD_MODULES.items():
        found = {name: tuple(t) for name in names if (t := target(name)) is not None}
        entries = "".join(f"\n    {name!r}: {found[name]!r}," for name in sorted(found))
        path = root / "__init__.py" if module == OLD_PACKAGE else root / f"{module.rpartition('.')[2]}.py"
        path.write_text(_TEMPLATE.format(module=module, names=f"{{{entries}\n}}"))
        written.append(path)
    return written
