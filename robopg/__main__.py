"""``python -m robopg`` (and ``torchrun … -m robopg``) runs the CLI."""

from robopg.cli import main

main()
