"""Using a trained policy: the numpy ``Controller``, the MuJoCo control callback, evaluation and
export (only export imports torch)."""
