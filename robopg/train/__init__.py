"""Training: the trainer loop, its resumable state, seeds and device, stopping on signals."""
