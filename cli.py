"""The robopg command line (Typer). Installed as ``robopg.app.cli``; entry point ``robopg``."""

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.command()
def envs() -> None:
    """List the tasks."""
    from robopg.envs import TASKS

    for spec in TASKS.values():
        typer.echo(f"{spec.name}\t{spec.gym_id}\t{spec.description}")


def main() -> None:
    app()
