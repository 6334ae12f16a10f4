"""The robopg command line: train, eval and list arm tasks.

Installed as ``robopg.cli`` with the ``robopg`` entry point. Every expected failure is a
RobopgError, printed as one red sentence with exit code 2; anything else is a bug and keeps its
traceback. The ``train`` options are generated from TrainConfig, the single source of defaults.
"""

import contextlib
import dataclasses
import inspect
import os
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from robopg.config import (
    EVAL,
    PANELS,
    RUNDIR,
    TASK,
    TrainConfig,
    cli_default,
    cli_type,
    resolve_config,
)
from robopg.errors import RobopgError

F = TypeVar("F", bound=Callable[..., Any])


class _Command(typer.core.TyperCommand):
    """A Typer command whose usage line names its arguments the POSIX way.

    Typer writes a required argument as ``{source}``, which reads like a set of choices; here
    it is ``SOURCE``, an optional one ``[ENV]`` and a repeated one ``RUNS...``.
    """

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # click's Context (Typer's own copy)
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, typer.core.TyperArgument):
                name = (param.metavar or param.name or "arg").upper()
                name += "..." if param.nargs != 1 else ""
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class _App(typer.Typer):
    """``typer.Typer`` whose commands are all ``_Command``s, so every usage line is alike."""

    def command(self, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
        kwargs.setdefault("cls", _Command)
        return super().command(name, **kwargs)


app = _App(
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Learn continuous control of MuJoCo arms with Gaussian policies and REINFORCE.",
)
console = Console()
err_console = Console(stderr=True)

#: commands that draw offscreen with OpenGL (MUJOCO_GL's backends); every other command runs
#: with mujoco's offscreen GL switched off, `view` too: its window is GLFW's, which MUJOCO_GL
#: does not choose, so a bad value cannot stop it
GL_COMMANDS = frozenset({"render"})


def friendly_errors(func: F) -> F:
    """Turn RobopgError into one red line and exit code 2 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RobopgError as exc:
            # escape: messages hold paths and hints like robopg[tb] that are not rich markup
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


# ----------------------------------------------------------------------------- the whole program
def _print_version(value: bool) -> None:
    if value:
        from robopg import __version__

        print(f"robopg {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            is_eager=True,
            callback=_print_version,
            help="Print robopg's version and exit.",
        ),
    ] = False,
) -> None:
    """Learn continuous control of MuJoCo arms with Gaussian policies and REINFORCE."""
    if ctx.invoked_subcommand is None:  # bare `robopg`: the help, and success
        text = ctx.get_help()  # rich help is printed by get_help itself and comes back empty
        if text:
            print(text)
        raise typer.Exit()
    if ctx.invoked_subcommand not in GL_COMMANDS:
        from robopg.render.gl import hold_gl

        hold_gl()


@app.command("version")
def version_cmd() -> None:
    """Print robopg's version (the installed package's)."""
    _print_version(True)


# ---------------------------------------------------------------------------------------- train
_TRAIN_EXTRA = {"env"}  # given positionally


def _train_options() -> list[inspect.Parameter]:
    """One ``--kebab-case`` option per TrainConfig field, with the field's default, help and panel.

    Only the flags typed on the command line override presets and config files (``train``
    asks click where each value came from), so the real defaults can stand in the help.
    """
    params = []
    for f in dataclasses.fields(TrainConfig):
        if f.name in _TRAIN_EXTRA:
            continue
        default = cli_default(f.name)  # counts (1e6) and sizes (64,64) parsed by TrainConfig
        kind = cli_type(f.name)
        flag = "--" + f.name.replace("_", "-")
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        option = typer.Option(
            default, *decls, help=escape(f.metadata["help"]), rich_help_panel=f.metadata["panel"]
        )
        params.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind
            )
        )
    return params


def _typed_flags(ctx: typer.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The options of ``values`` given on the command line (the rest are the help's defaults)."""
    source = ctx.get_parameter_source
    return {k: v for k, v in values.items() if getattr(source(k), "name", "") == "COMMANDLINE"}


def train(
    ctx: typer.Context,
    env: Annotated[
        str, typer.Argument(help="Task: reacher, pusher, … or a gymnasium id.")
    ] = TrainConfig.env,
    preset: Annotated[
        str | None,
        typer.Option(
            help="Shipped preset of tuned settings (see `robopg presets`).",
            rich_help_panel=TASK,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Settings file: TOML, or a run's config.json (overrides the preset).",
            rich_help_panel=TASK,
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue a run directory or checkpoint exactly (a larger --steps trains on).",
            rich_help_panel=RUNDIR,
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option(help="No live progress display.", rich_help_panel=EVAL)
    ] = False,
    **values: Any,
) -> None:
    """Train a Gaussian policy with REINFORCE on a task."""
    from robopg.train.trainer import Trainer, resume_config

    flags = _typed_flags(ctx, values)
    given_env = _typed_flags(ctx, {"env": env})
    if resume is not None:
        if preset or config or given_env:
            raise RobopgError(
                "--resume takes the saved run's settings; drop the task, --preset and --config."
            )
        cfg = resume_config(resume, flags)
    else:
        flags.update(given_env)
        cfg = resolve_config(flags, preset=preset, config_file=config)
    trainer = Trainer(cfg, console=console, resume=resume, show_progress=not quiet)
    if trainer.dist.is_main:
        _print_start(cfg, trainer)
    try:
        result = trainer.train()
    except KeyboardInterrupt:  # a second Ctrl-C: stop now; files on disk are whole (atomic)
        if trainer.dist.is_main:
            _print_aborted(trainer)
        raise typer.Exit(code=130) from None
    if not trainer.dist.is_main:
        return
    if result.interrupted:
        console.print(
            f"[yellow]Stopped at {result.env_steps:,} steps.[/] Checkpoint: "
            f"{escape(str(result.final_checkpoint))}\n"
            f"Resume with: robopg train --resume {escape(str(result.run_dir))}",
            highlight=False,
        )
        raise typer.Exit(code=130)
    if result.final_eval is not None:
        console.print(
            f"[bold green]done[/] {result.env_steps:,} steps — final eval "
            f"{result.final_eval.summary()}"
        )
    console.print(f"run directory: {result.run_dir}\ncheckpoint: {result.final_checkpoint}")


def _print_aborted(trainer: Any) -> None:
    last = trainer.last_checkpoint
    if last is None:
        console.print("[red]Aborted[/] before the first checkpoint was written.", highlight=False)
        return
    console.print(
        f"[red]Aborted.[/] Last complete checkpoint: {escape(str(last))}\n"
        f"Resume with: robopg train --resume {escape(str(trainer.run_dir))}",
        highlight=False,
    )


def budget_text(steps: int, batches: int, batch_steps: int) -> str:
    """The steps a run really trains: whole batches, so ``steps`` rounds up to a multiple.

    ``budget_text(2000, 3, 800)`` → ``"2,400 steps (2,000 rounded up to 3 batches of 800)"``.
    """
    total = batches * batch_steps
    unit = "batch" if batches == 1 else "batches"
    if total == steps:
        return f"{total:,} steps ({batches:,} {unit} of {batch_steps:,})"
    return f"{total:,} steps ({steps:,} rounded up to {batches:,} {unit} of {batch_steps:,})"


def _print_start(cfg: TrainConfig, trainer: Any) -> None:
    where = f"{trainer.device}" + (
        f" × {trainer.dist.world_size} processes" if trainer.dist.active else ""
    )
    console.print(
        f"[bold]robopg train[/] {trainer.task.name} ({trainer.task.gym_id}) on {where}, "
        f"engine {type(trainer.env).__name__}, "
        f"{budget_text(cfg.steps, trainer.total_updates, trainer.batch_steps)} → "
        f"{escape(str(trainer.run_dir or 'new run directory'))}",
        highlight=False,
    )
    settings = ", ".join(f"{k}={v}" for k, v in cfg.to_dict().items())
    console.print(f"[dim]{settings}[/]", highlight=False)
    backend = trainer.backend
    console.print(f"[dim]backend {backend.name}: {escape(backend.reason)}[/]", highlight=False)


def _panel_order(param: inspect.Parameter) -> int:
    """Where an option's help panel comes in PANELS (Typer shows panels in order of first use)."""
    info = getattr(param.annotation, "__metadata__", (param.default,))[0]
    panel = getattr(info, "rich_help_panel", None)
    return PANELS.index(panel) if panel in PANELS else -1


train.__signature__ = inspect.signature(train).replace(  # type: ignore[attr-defined]
    parameters=sorted(
        [
            p if _panel_order(p) < 0 else p.replace(kind=p.KEYWORD_ONLY)
            for p in inspect.signature(train).parameters.values()
            if p.kind != p.VAR_KEYWORD
        ]
        + _train_options(),
        key=_panel_order,
    )
)
app.command()(friendly_errors(train))


# ----------------------------------------------------------------------------------------- eval
@app.command("eval")
@friendly_errors
def eval_cmd(
    source: Annotated[
        str,
        typer.Argument(
            help="Run directory, checkpoint file, or task name (uses the shipped policy)."
        ),
    ],
    episodes: Annotated[
        int, typer.Option(min=1, help="Episodes to run (500: standard error ≈ std/22).")
    ] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the first episode (i-th gets seed+i).")] = 0,
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the mean.")] = False,
    engine: Annotated[str, typer.Option(help="auto, batch or gym.")] = "auto",
    task: Annotated[
        str | None, typer.Option(help="Evaluate on this task instead of the trained one.")
    ] = None,
    safety: Annotated[
        bool,
        typer.Option(help="Act through the deployment safety layer (Panda tasks) and count it."),
    ] = False,
    randomize: Annotated[
        str,
        typer.Option(
            help="Score under domain randomization: a preset (panda) or a TOML file; episode i "
            "draws its perturbations from seed+i.",
            show_default="off",
        ),
    ] = "",
) -> None:
    """Evaluate a saved policy: mean return ± its standard error (deterministic by default)."""
    from robopg.deploy.evaluate import evaluate_saved_policy, task_report

    path, name, result = evaluate_saved_policy(
        source, episodes, seed, stochastic, engine, task, safety, randomize
    )
    under = f" · randomized ({randomize})" if randomize.strip() not in ("", "off", "none") else ""
    console.print(f"{name} · {path}{under}\n{result.summary()}", highlight=False)
    for line in task_report(name, result):
        console.print(line, highlight=False)


# --------------------------------------------------------------------------------------- export
@app.command("export")
@friendly_errors
def export_cmd(
    source: Annotated[
        str, typer.Argument(help="Run directory, checkpoint file, or task name (shipped policy).")
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="onnx (.onnx), torch.export (.pt2, torch's own format) or torchscript "
            "(.pt, legacy: torch deprecates TorchScript).",
            show_default="from --out's extension, else onnx",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output file, with its format's extension.", show_default="<task>.onnx, …"
        ),
    ] = None,
) -> None:
    """Export a policy as one self-contained model (normaliser and action clipping included)."""
    from robopg.deploy.export import export_policy, output_format

    fmt = output_format(format, out)
    path = export_policy(source, fmt, out)
    console.print(
        f"wrote {escape(str(path))} ({fmt}: obs float32 (batch, obs_dim) → action)",
        highlight=False,
    )


# --------------------------------------------------------------------------------------- render
@app.command()
@friendly_errors
def render(
    source: Annotated[
        str,
        typer.Argument(
            help="Run directory, checkpoint file, or task name (uses the shipped policy)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help=".mp4 (H.264), .gif, or .png (contact sheet).")
    ] = Path("rollout.mp4"),
    episodes: Annotated[int, typer.Option(min=1, help="Episodes to render.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the first episode (i-th gets seed+i).")] = 0,
    width: Annotated[int, typer.Option(help="Width of one episode's frame in pixels.")] = 480,
    height: Annotated[int, typer.Option(help="Height of one episode's frame in pixels.")] = 480,
    fps: Annotated[
        float | None,
        typer.Option(help="Playback rate in frames/s.", show_default="the env's real-time rate"),
    ] = None,
    camera: Annotated[
        str, typer.Option(help="default (the env's view), top, or a model camera name/index.")
    ] = "default",
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the mean.")] = False,
    random: Annotated[
        bool, typer.Option(help="Render an untrained policy (SOURCE is a task name).")
    ] = False,
    grid: Annotated[bool, typer.Option(help="All episodes side by side in one video.")] = False,
) -> None:
    """Render episodes of a policy to a video, headless (OpenGL: EGL, then OSMesa)."""
    from robopg.render import RenderSettings, choose_gl_backend, prepare_output

    settings = RenderSettings(width, height, fps, camera, grid)
    prepare_output(out, settings, episodes)
    choose_gl_backend()  # sets MUJOCO_GL before anything below imports mujoco
    from robopg.render import render_policy

    result = render_policy(source, out, episodes, seed, settings, stochastic, random)
    for i, (ret, steps) in enumerate(zip(result.returns, result.lengths, strict=True)):
        console.print(f"episode {i + 1} (seed {seed + i}): return {ret:.3f} over {steps} steps")
    console.print(result.summary(), highlight=False)


# ----------------------------------------------------------------------------------------- view
@app.command()
@friendly_errors
def view(
    source: Annotated[
        str,
        typer.Argument(
            help="Run directory, checkpoint file, or task name (uses the shipped policy).",
            metavar="TASK|RUN|FILE",
        ),
    ],
    seed: Annotated[int, typer.Option(help="Seed of the first episode (i-th gets seed+i).")] = 0,
    episodes: Annotated[
        int, typer.Option(min=0, help="Stop after this many episodes (0: until closed).")
    ] = 0,
    stochastic: Annotated[
        bool, typer.Option(help="Start with sampled actions (Enter switches).")
    ] = False,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 1.0,
    safety: Annotated[
        bool, typer.Option(help="Act through the deployment safety layer (Panda tasks).")
    ] = False,
    max_seconds: Annotated[float | None, typer.Option(hidden=True)] = None,
    screenshot: Annotated[Path | None, typer.Option(hidden=True)] = None,
    record: Annotated[Path | None, typer.Option(hidden=True)] = None,
) -> None:
    """Watch a policy act live in MuJoCo's viewer (Space pause, Backspace next seed, Enter
    mean/sampled, -/= speed)."""
    from robopg.render.viewer import ViewOptions, view_policy

    options = ViewOptions(
        seed, episodes, stochastic, speed, max_seconds, screenshot, record, safety
    )
    view_policy(source, options, lambda e: console.print(f"episode {e.summary()}", highlight=False))


# ----------------------------------------------------------------------------------------- plot
@app.command()
@friendly_errors
def plot(
    runs: Annotated[
        list[Path], typer.Argument(help="Run directories, or folders of them (e.g. runs/).")
    ],
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("curve.png"),
    width: Annotated[int, typer.Option(min=400, help="Image width in pixels.")] = 1600,
    height: Annotated[int, typer.Option(min=300, help="Image height in pixels.")] = 1000,
) -> None:
    """Learning curves (return vs env steps, mean ± std over seeds) and training diagnostics."""
    from robopg.report.plot import plot_runs

    groups = plot_runs(runs, out, width=width, height=height)
    for group in groups:
        console.print(f"  {group.label}", highlight=False)
    console.print(f"wrote {out} ({width}×{height})", highlight=False)


# ----------------------------------------------------------------------------------------- info
@app.command()
@friendly_errors
def info(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Summarise a run: config, steps, best/last evaluation, checkpoints."""
    import json

    from robopg.report.info import format_info, run_info

    summary = run_info(run)
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2))
        return
    for line in format_info(summary):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


# ----------------------------------------------------------------------------------------- tune
@app.command()
@friendly_errors
def tune(
    env: Annotated[str, typer.Argument(help="Task to tune: reacher, pusher, …")],
    trials: Annotated[int, typer.Option(help="Trials in the study (all processes together).")] = 20,
    steps: Annotated[str, typer.Option(help="Env steps per trial (the tuning budget).")] = "300000",
    jobs: Annotated[int, typer.Option(help="Trials at once on this machine (processes).")] = 1,
    storage: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL every process joins.", show_default="SQLite in the study folder"
        ),
    ] = None,
    study: Annotated[str | None, typer.Option(help="Study name.", show_default="the task")] = None,
    space: Annotated[
        Path | None, typer.Option(help="TOML file overriding the default search space.")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Preset the trials start from (see `robopg presets`).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampler and of every trial's run.")] = 0,
    evals: Annotated[int, typer.Option(help="Deterministic evaluations per trial.")] = 10,
    last: Annotated[int, typer.Option(help="Score = mean return of the last K evaluations.")] = 3,
    out: Annotated[Path, typer.Option(help="Folder of the study folder tune-<study>/.")] = Path(
        "runs"
    ),
) -> None:
    """Search hyperparameters with Optuna (TPE, median pruning); rerun to resume."""
    from rich.live import Live

    from robopg.tune import require_optuna, run_tune

    require_optuna()
    base = resolve_config({"env": env, "steps": steps, "seed": seed}, preset=preset)
    try:
        with Live(console=console, auto_refresh=False, transient=False) as live:

            def show(table: Any) -> None:
                live.update(table, refresh=True)

            outcome = run_tune(
                base, trials, study, storage, space, jobs, evals, last, out, console, show
            )
    except KeyboardInterrupt:  # a second Ctrl-C: finished trials are in the storage already
        console.print("[red]Aborted.[/] Rerun the same command to resume the study.")
        raise typer.Exit(code=130) from None
    if not console.is_terminal:
        console.line()  # Live leaves its last frame without a newline when not on a terminal
    state = "done" if outcome.finished else "[yellow]stopped[/] (rerun the same command to resume)"
    best = "none yet" if outcome.best_value is None else f"{outcome.best_value:.3f}"
    console.print(
        f"{state}: {outcome.trials} trials, best score {best} · study {escape(outcome.storage)}",
        highlight=False,
    )
    for path in outcome.written:
        console.print(f"wrote {escape(str(path))}", highlight=False)
    if not outcome.finished:
        raise typer.Exit(code=130)


# ------------------------------------------------------------------------------------- variance
@app.command()
@friendly_errors
def variance(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="Task name (untrained policy), run directory or checkpoint file.",
            metavar="TASK_OR_RUN",
        ),
    ],
    quick: Annotated[
        bool, typer.Option(help="Tiny sizes (seconds; for tests and a look).")
    ] = False,
    shipped: Annotated[
        bool, typer.Option(help="With a task name: use the policy robopg ships for it.")
    ] = False,
    episodes: Annotated[int, typer.Option(help="Trajectories cut into batches.")] = 2048,
    reference_episodes: Annotated[
        int, typer.Option(help="Trajectories for the reference gradient.")
    ] = 2048,
    value_episodes: Annotated[int, typer.Option(help="Trajectories V(s) is fit on.")] = 256,
    batch_episodes: Annotated[str, typer.Option(help="Batch sizes in trajectories.")] = "4,16,64",
    gammas: Annotated[str, typer.Option(help="Discount factors.")] = "0.99,0.9,1.0",
    lams: Annotated[str, typer.Option(help="GAE λ values.")] = "0,0.5,0.9,0.95,1",
    seed: Annotated[int, typer.Option(help="Seed of everything.")] = 0,
    engine: Annotated[str, typer.Option(help="auto, batch or gym.")] = "auto",
    out: Annotated[
        Path, typer.Option(help="Folder for variance-<task>-<time>/ (JSON, CSV, PNG).")
    ] = Path("runs"),
) -> None:
    """Measure the variance of policy-gradient estimators at a fixed policy."""
    from robopg.variance import resolve_settings, run_variance
    from robopg.variance.report import build_table, default_out_dir, write_outputs

    settings = resolve_settings(  # the sizes not typed come from the defaults, or --quick's
        quick,
        _typed_flags(
            ctx,
            {
                "episodes": episodes,
                "reference_episodes": reference_episodes,
                "value_episodes": value_episodes,
                "batch_episodes": batch_episodes,
                "gammas": gammas,
                "lams": lams,
                "seed": seed,
            },
        ),
    )
    with console.status("measuring") as status:
        report = run_variance(source, settings, shipped, engine, log=status.update)
    console.print(build_table(report))
    paths = write_outputs(report, default_out_dir(out, report.task))
    console.print(
        f"{report.elapsed_s:.0f} s · wrote {paths['json']}, {paths['csv'].name}, "
        f"{paths['png'].name}",
        highlight=False,
    )


# ----------------------------------------------------------------------------------------- envs
@app.command()
@friendly_errors
def envs(
    all_ids: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Also list every gymnasium id the installed packages register "
            "(gymnasium, gymnasium-robotics, panda-gym), as `robopg train` takes it.",
        ),
    ] = False,
) -> None:
    """List the arm tasks with their sizes and the engines that run each."""
    from robopg.envs import task_rows

    rows = task_rows()
    # Descriptions go below the table and the columns are ruled only under the header (no
    # vertical borders) so that every cell fits whole in an 80-column terminal or pipe, where
    # rich would otherwise cut "batch, gym, warp" to "batch, gym, w…". "engine" (auto's pick)
    # is the first of "engines".
    table = Table(title="robopg tasks", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False)
    columns = [c for c in rows[0] if c not in ("description", "engine")]
    short = {"action": "act"}  # sizes: "obs" and "act" dims
    for col in columns:
        table.add_column(short.get(col, col), no_wrap=True)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table)
    for row in rows:
        console.print(
            f"  [bold]{row['task']}[/]: {escape(str(row['description']))}", highlight=False
        )
    console.print(
        "--engine auto uses the first engine listed. Any other gymnasium id with a Box action "
        "space also works (engines: gym), and module:EnvId trains an env another package "
        "registers (`robopg envs --all` lists them)."
    )
    if all_ids:
        _print_registered_ids()


def _print_registered_ids() -> None:
    """``robopg envs --all``: the ids in gymnasium's registry, by the package registering them."""
    from robopg.envs.registry import registered_ids

    for package, ids in registered_ids().items():
        console.print(f"\n[bold]{escape(package)}[/] ({len(ids)} ids)", highlight=False)
        for env_id in ids:
            console.print(f"  {escape(env_id)}", highlight=False, soft_wrap=True)
    console.print(
        "\nOnly ids with a Box action space and a Box (or Dict of Box) observation train. "
        "For a package robopg does not import here, list its ids with "
        '`python -c "import PKG, gymnasium; gymnasium.pprint_registry()"`.',
        highlight=False,
    )


@app.command()
def presets() -> None:
    """List the shipped presets with what each is for."""
    from robopg.config import preset_description, preset_names

    for name in preset_names():
        console.print(f"[bold]{name:<14}[/] {escape(preset_description(name))}", highlight=False)


def _die_quietly_on_late_signals() -> None:
    """A Ctrl-C (or SIGTERM) that arrives once the command is done — typically the second press
    after a graceful stop, landing in interpreter shutdown — would raise KeyboardInterrupt inside
    atexit/weakref finalisers and print a traceback. From here on such a signal flushes the
    output and ends the process by that signal, as an unhandled Ctrl-C does in any program.
    Installed only by the console script, never by the library (a notebook keeps its Ctrl-C)."""

    def die(signum: int, frame: object) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, die)


def main() -> None:
    """Console-script entry point.

    Under torchrun (WORLD_SIZE > 1) the process ends with ``os._exit`` after flushing: the
    process group is already torn down by then, but gloo's worker threads can still abort the
    interpreter's finalisation (SIGABRT, "terminate called without an active exception"),
    turning a finished run into a failed one for torchrun.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        try:
            app(prog_name="robopg")
        finally:
            _die_quietly_on_late_signals()
        return
    code = 0
    try:
        app(prog_name="robopg")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
