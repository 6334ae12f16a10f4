"""``python -m robopg`` (and ``torchrun … -m robopg``) runs the CLI.

From the repository root, ``-m robopg`` first finds the source folder ``./robopg``, which lacks
the subpackages the install maps under it (``robopg.app`` ← ``cli.py``, ``robopg.envs`` ←
``envs/``). In that case drop the checkout root from ``sys.path`` and import the installed
robopg instead (the editable install points back at these same files).
"""

import os
import sys

try:
    from robopg.app.cli import main
except ModuleNotFoundError as exc:
    if not (exc.name or "").startswith("robopg"):
        raise
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != checkout]
    for name in [m for m in sys.modules if m == "robopg" or m.startswith("robopg.")]:
        del sys.modules[name]
    try:
        from robopg.app.cli import main
    except ModuleNotFoundError:
        sys.exit(
            "robopg is not installed: run the README's setup command "
            '(pip install -e ".[dev]" --config-settings editable_mode=strict).'
        )

main()
