"""Antithetic pairs at a fixed policy: how much of the policy gradient's noise they remove.

The pusher, reacher3 and arm7 presets use ``--antithetic`` for what it does to learning
(docs/experiments.md); this measures its mechanism. At one fixed policy and its value net
(a run directory, checkpoint or shipped policy; default the shipped pusher policy), it draws K
training batches the way its run drew them (its ``num_envs`` × rollout length, fresh starts
each) with pairs and K without, and computes each batch's policy gradient as the trainer's step
does before clipping: GAE advantages from the saved value net, standardised per batch, the
gradient of the REINFORCE surrogate. Per arm it prints the total variance tr Cov(ĝ) over the K
batches and the mean cosine of each batch's gradient to the other arm's mean gradient (an
independent reference for the direction). Both arms see the same K episode starts.

    .venv/bin/python benchmarks/antithetic_variance.py --batches 64
    .venv/bin/python benchmarks/antithetic_variance.py runs/pusher-20261205-203110 --batches 32
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from robopg.algo.distributed import DistContext
from robopg.algo.policy import GaussianPolicy, ValueNet
from robopg.algo.reinforce import compute_advantages, policy_loss, standardize
from robopg.collect.rollout import RolloutCollector
from robopg.config import TrainConfig
from robopg.envs import make_vector_env
from robopg.runs.checkpoint import load_checkpoint
from robopg.runs.run_dir import resolve_policy_path
from robopg.runs.saved_policy import policy_from_checkpoint
from robopg.train.trainer import update_settings

CPU = torch.device("cpu")


def load(source: str) -> tuple[TrainConfig, GaussianPolicy, ValueNet]:
    """The saved run's config, policy and value net (read once, shared by both arms)."""
    ckpt = load_checkpoint(resolve_policy_path(source))
    cfg = TrainConfig.from_dict(ckpt.meta["config"], source=str(source))
    policy = policy_from_checkpoint(ckpt)
    value = ValueNet(policy.cfg, cfg.value_hidden_sizes(), cfg.value_activation_name())
    value.load_state_dict(ckpt.section("value"))
    return cfg, policy, value


def batch_gradients(
    saved: tuple[TrainConfig, GaussianPolicy, ValueNet], batches: int, antithetic: bool, seed: int
) -> torch.Tensor:
    """(batches, n_params) policy gradients (ascent direction) at the saved policy."""
    cfg, policy, value = saved
    env = make_vector_env(cfg.env, cfg.num_envs)
    collector = RolloutCollector(env, policy, CPU, torch.Generator().manual_seed(seed), antithetic)
    settings, dist = update_settings(cfg), DistContext()
    params = [p for p in policy.parameters() if p.requires_grad]
    grads = []
    for k in range(batches):
        collector.reset(seed + 1000 * k)  # the same starts in both arms (pairs: every other)
        batch = collector.collect(cfg.rollout_len)
        adv, _ = compute_advantages(batch, policy, value, settings)
        adv = standardize(adv.reshape(-1), dist)
        obs = batch.obs.reshape(-1, batch.obs.shape[-1])
        actions = batch.actions.reshape(-1, batch.actions.shape[-1])
        loss = policy_loss(policy, obs, actions, adv)
        g = torch.autograd.grad(loss, params)
        grads.append(-torch.cat([x.reshape(-1) for x in g]))
    env.close()
    return torch.stack(grads).double()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default="pusher", help="run dir, file or task")
    parser.add_argument("--batches", type=int, default=64, help="batches per arm (K)")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    args = parser.parse_args()
    if args.batches < 2:
        parser.error("--batches must be at least 2 (a variance needs two batches).")
    t0 = time.perf_counter()
    saved = load(args.source)
    arms = {
        name: batch_gradients(saved, args.batches, anti, args.seed)
        for name, anti in (("independent envs", False), ("antithetic pairs", True))
    }
    means = {name: g.mean(0) for name, g in arms.items()}
    report: dict[str, object] = {"source": args.source, "batches": args.batches}
    print(f"{args.source}: {args.batches} batches per arm, {time.perf_counter() - t0:.0f} s")
    print("| arm | tr Cov(ĝ) | ‖mean ĝ‖² | cosine to the other arm's mean |")
    print("|---|---|---|---|")
    for name, g in arms.items():
        other = means[next(n for n in arms if n != name)]
        total_var = float((g - means[name]).square().sum(1).mean() * len(g) / (len(g) - 1))
        cos = torch.nn.functional.cosine_similarity(g, other[None], dim=1)
        report[name] = {
            "trace_cov": total_var,
            "mean_sq_norm": float(means[name].square().sum()),
            "cosine_mean": float(cos.mean()),
            "cosine_stderr": float(cos.std() / len(cos) ** 0.5),
        }
        print(
            f"| {name} | {total_var:.4g} | {float(means[name].square().sum()):.4g} | "
            f"{float(cos.mean()):.3f} ± {float(cos.std() / len(cos) ** 0.5):.3f} |"
        )
    ratio = report["independent envs"]["trace_cov"] / report["antithetic pairs"]["trace_cov"]  # type: ignore[index]
    print(f"variance ratio (independent / pairs): {ratio:.2f}")
    report["variance_ratio"] = ratio
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
