"""The algorithm: the Gaussian policy and value nets, observation normaliser, returns and GAE,
the REINFORCE update (torch autograd, the reference implementation) and antithetic noise.

No file I/O and no knowledge of engines or run directories: arrays and tensors in and out."""
