"""``python -m robopg`` (and ``torchrun -m robopg``) runs the CLI."""

from robopg.app.cli import main

main()
