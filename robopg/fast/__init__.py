"""The fast CPU path: the same sampling, policy step and value fit as ``robopg.algo``, in numpy.

Chosen once per run by ``robopg.train.backend``; ``mlp`` (numpy only, no torch) also serves the
deployed ``Controller``."""
