"""Where a run executes and from which seeds: the device rule and the derivation of every RNG
stream from one ``--seed``, kept apart from the loop so both are testable on their own."""

from __future__ import annotations

import numpy as np
import torch

from robopg.errors import ConfigError


def pick_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available; use cpu.")
    return torch.device(name)


def derive_seeds(seed: int, rank: int) -> dict[str, int]:
    """Independent seeds for every random stream, all from one ``--seed``.

    Env seeds are laid out so that rank r's env i gets ``env + r·num_envs + i``: N ranks see
    exactly the episodes one process with N·num_envs envs would.
    """
    base = np.random.SeedSequence(seed)
    env_seed, init_seed, noise_seed, value_seed = (
        int(s.generate_state(1)[0] & 0x7FFFFFFF) for s in base.spawn(4)
    )
    rank_ss = np.random.SeedSequence([seed, rank])
    return {
        "env": env_seed,
        "init": init_seed,  # same on every rank: networks start identical
        "noise": int(rank_ss.spawn(1)[0].generate_state(1)[0] & 0x7FFFFFFF) ^ noise_seed,
        "value": value_seed + rank,
    }
