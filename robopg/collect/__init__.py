"""Collecting batches: engine construction, the host rollout collector, the device rollout and
the MuJoCo Warp engine."""
