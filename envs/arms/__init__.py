"""robopg's own tasks, one module each: its ``ArmTask`` (or an import of it) and its ``SPEC``.

Every module here not starting with ``_`` is a task; ``robopg.envs.tasks`` discovers them, so
adding a task is one module plus its MJCF (a task of another package registers its module with
``robopg.envs.register_task``).
"""
