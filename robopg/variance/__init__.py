"""``robopg variance``: the variance of policy-gradient estimators at a fixed policy.

Split by concern: ``settings`` (sizes and grids, CLI parsing), ``estimators`` (advantages, value
baselines, per-trajectory gradients), ``stats`` (jackknife intervals, the reference gradient),
``measure`` (pools of trajectories → a VarianceReport; the method is in its docstring) and
``report`` (table, JSON, CSV, PNG). The public names are re-exported here.
"""

from robopg.variance.estimators import (
    Estimator,
    FittedValue,
    estimator_batch_gradients,
    estimators_for,
    fit_value_baseline,
    whole_episode_returns,
)
from robopg.variance.measure import (
    VarianceReport,
    measure_on_pools,
    measure_variance,
    run_variance,
)
from robopg.variance.settings import QUICK, VarianceSettings, parse_list, resolve_settings
from robopg.variance.stats import EstimatorStats, Interval, Reference, summarize

__all__ = [
    "QUICK",
    "Estimator",
    "EstimatorStats",
    "FittedValue",
    "Interval",
    "Reference",
    "VarianceReport",
    "VarianceSettings",
    "estimator_batch_gradients",
    "estimators_for",
    "fit_value_baseline",
    "measure_on_pools",
    "measure_variance",
    "parse_list",
    "resolve_settings",
    "run_variance",
    "summarize",
    "whole_episode_returns",
]
