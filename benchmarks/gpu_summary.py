"""Gather ``gpu_check.sh``'s part results into ``results.json`` and ``summary.md``, and print it.

Run by ``benchmarks/gpu_check.sh`` after every part (so a check stopped half way still leaves a
whole summary of the parts done): ``python benchmarks/gpu_summary.py WORK OUT``. ``WORK`` holds
what the parts wrote (``parts.json``, ``env.json``, ``tests.xml``, ``bench.json``,
``compile.json``, ``train.json``); ``OUT`` gets ``results.json`` and ``summary.md``. Each target
of the GPU engine is marked met, not met, or not measured (a part failed or did not run), and
undecided where the check's budget is shorter than the target's (Pusher's 10 minutes).
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REACHER_SPS = 2_000_000.0  # end-to-end env steps/s on Reacher
CPU_RATIO = 20.0  # warp end-to-end over the CPU engine's, Reacher, same machine
REACHER_S = 20.0  # training seconds to −4.5
PUSHER_S = 600.0  # training seconds to better than −25
PUSHER_RETURN = -25.0


def load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def tests_counts(xml: Path) -> dict[str, int] | None:
    """Passed, failed, errors and skipped from pytest's JUnit XML (None if it is absent)."""
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return None
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return None
    n = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    failed = [
        f"{case.get('classname')}::{case.get('name')}"
        for case in suite.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]
    return {
        "passed": n["tests"] - n["failures"] - n["errors"] - n["skipped"],
        "failed": n["failures"],
        "errors": n["errors"],
        "skipped": n["skipped"],
        "failed_names": failed,  # type: ignore[dict-item]
    }


def target(name: str, goal: str, value: str, status: str) -> dict[str, str]:
    return {"target": name, "goal": goal, "value": value, "status": status}


def targets(bench: Any, train: Any) -> list[dict[str, str]]:
    """The four targets of the GPU engine, each with its measured value and status."""
    rows = [r for r in (bench or {}).get("rows", []) if r.get("task") == "reacher"]
    warp = max((r["warp_e2e"] for r in rows if "warp_e2e" in r), default=None)
    cpu = max((r["cpu_e2e"] for r in rows if "cpu_e2e" in r), default=None)
    out = []
    if warp is None:
        out.append(target("Reacher end-to-end env steps/s", "≥ 2,000,000", "—", "not measured"))
    else:
        ok = "met" if warp >= REACHER_SPS else "not met"
        out.append(target("Reacher end-to-end env steps/s", "≥ 2,000,000", f"{warp:,.0f}", ok))
    if warp is None or cpu is None:
        out.append(target("warp over CPU engine (Reacher, best of each)", "≥ 20×", "—",
                          "not measured"))  # fmt: skip
    else:
        ratio = warp / cpu
        out.append(target("warp over CPU engine (Reacher, best of each)", "≥ 20×",
                          f"{ratio:.1f}× ({warp:,.0f} / {cpu:,.0f})",
                          "met" if ratio >= CPU_RATIO else "not met"))  # fmt: skip
    runs = {r["task"]: r for r in (train or {}).get("runs", [])}
    reacher = runs.get("reacher")
    if reacher is None:
        out.append(target("Reacher to −4.5 (training s after compilation)", "≤ 20 s", "—",
                          "not measured"))  # fmt: skip
    else:
        hit = reacher["to"].get("-4.5")
        value = "not reached" if hit is None else f"{hit['train_s']:.1f} s"
        value += f" (best {reacher['best']:.2f} in {reacher['train_s']:.1f} s)"
        ok = hit is not None and hit["train_s"] <= REACHER_S
        out.append(target("Reacher to −4.5 (training s after compilation)", "≤ 20 s", value,
                          "met" if ok else "not met"))  # fmt: skip
    pusher = runs.get("pusher")
    if pusher is None:
        out.append(target("Pusher better than −25", "within 600 s", "—", "not measured"))
    else:
        hit = pusher["to"].get("-25.0")
        best, spent = pusher["best"], pusher["train_s"]
        value = f"best {best:.2f} in {spent:.0f} s"
        if hit is not None and hit["train_s"] <= PUSHER_S and best > PUSHER_RETURN:
            status = "met"
        elif spent >= PUSHER_S:
            status = "not met"
        else:  # the check's budget stops short of the target's 10 minutes
            status = f"undecided (budget {spent:.0f} s < 600 s)"
        out.append(target("Pusher better than −25", "within 600 s", value, status))
    return out


def fmt(x: Any, spec: str = ",.0f") -> str:
    return "—" if x is None else format(x, spec)


def markdown(res: dict[str, Any]) -> str:
    env = res.get("env") or {}
    lines = [
        f"# GPU check ({res['mode']})",
        "",
        f"device: {env.get('gpu', '?')}; {env.get('cpu_cores', '?')} CPU cores; "
        f"python {env.get('python', '?')}, torch {env.get('torch', '?')}, "
        f"warp {env.get('warp', '?')}, mujoco {env.get('mujoco', '?')}",
        "",
    ]
    if res["mode"] == "small":
        lines += ["Smoke run (--small) on Warp's CPU device: tiny sizes, not the targets' "
                  "measurement.", ""]  # fmt: skip
    lines += ["## Targets", "", "| target | goal | measured | status |", "|---|---|---|---|"]
    lines += [f"| {t['target']} | {t['goal']} | {t['value']} | **{t['status']}** |"
              for t in res["targets"]]  # fmt: skip
    lines += ["", "## Parts", "", "| part | status | seconds | budget s |", "|---|---|---|---|"]
    for name, p in res["parts"].items():
        lines.append(f"| {name} | {p['status']} | {p['seconds']:.0f} | {p['budget_s']} |")
    t = res.get("tests")
    if t:
        lines += ["", f"tests (-m gpu): {t['passed']} passed, {t['failed']} failed, "
                  f"{t['errors']} errors, {t['skipped']} skipped"]  # fmt: skip
        lines += [f"- failed: {name}" for name in t["failed_names"]]
    bench = res.get("bench")
    if bench and bench.get("rows"):
        lines += ["", f"## Env steps/s ({bench['steps']} steps; CPU engine "
                  f"{bench['cpu_steps']} steps on {bench['cpu_cores']} cores)", "",
                  "| task | worlds | warp physics | no graphs | warp e2e | CPU physics | CPU e2e "
                  "| e2e ratio | engine MiB | Warp pool MiB | torch peak MiB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in bench["rows"]:
            if "error" in r and "warp_e2e" not in r:
                lines.append(f"| {r['task']} | {r['worlds']:,} | {r['error'][:80]} |")
                continue
            lines.append(
                f"| {r['task']} | {r['worlds']:,} | {fmt(r.get('warp_physics'))} "
                f"| {fmt(r.get('warp_physics_no_graphs'))} | {fmt(r.get('warp_e2e'))} "
                f"| {fmt(r.get('cpu_physics'))} | {fmt(r.get('cpu_e2e'))} "
                f"| {fmt(r.get('e2e_ratio'), '.1f')} | {fmt(r.get('mem_engine_mib'))} "
                f"| {fmt(r.get('mem_warp_pool_mib'))} | {fmt(r.get('mem_torch_peak_mib'))} |"
            )
    comp = res.get("compile")
    if comp and comp.get("compile"):
        lines += ["", "## Kernel load (fresh process)", "", "| task | cold s | warm s |",
                  "|---|---|---|"]  # fmt: skip
        lines += [f"| {c['task']} | {fmt(c.get('cold_s'), '.1f')} | {fmt(c.get('warm_s'), '.1f')} |"
                  for c in comp["compile"]]  # fmt: skip
    train = res.get("train")
    if train and train.get("runs"):
        lines += ["", "## Training on the warp engine (training s exclude kernel loading)", "",
                  "| task | setup s | first threshold | second threshold | best | training s "
                  "| env steps | env steps/s |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in train["runs"]:
            hits = []
            for thr, hit in r["to"].items():
                hits.append(f"{thr}: " + ("not reached" if hit is None else
                            f"{hit['train_s']:.1f} s, {hit['env_steps'] / 1e6:.2f}M"))  # fmt: skip
            lines.append(f"| {r['task']} | {r['setup_s']:.1f} | {hits[0]} | {hits[1]} "
                         f"| {r['best']:.2f} | {r['train_s']:.1f} | {r['env_steps']:,} "
                         f"| {r['sps']:,.0f} |")  # fmt: skip
    lines += ["", "Logs of every part: logs.tar.gz; every number: results.json.", ""]
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main() -> None:
    work, out = Path(sys.argv[1]), Path(sys.argv[2])
    res: dict[str, Any] = {
        "mode": (load(work / "mode.json") or {}).get("mode", "full"),
        "env": load(work / "env.json"),
        "parts": load(work / "parts.json") or {},
        "tests": tests_counts(work / "tests.xml"),
        "bench": load(work / "bench.json"),
        "compile": load(work / "compile.json"),
        "train": load(work / "train.json"),
    }
    res["targets"] = targets(res["bench"], res["train"])
    write(out / "results.json", json.dumps(res, indent=1))
    text = markdown(res)
    write(out / "summary.md", text)
    if len(sys.argv) > 3 and sys.argv[3] == "--print":
        print(text)


if __name__ == "__main__":
    main()
