"""Reports about runs: ``robopg info`` and ``robopg plot``."""
