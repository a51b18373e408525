"""Errors that are the user's to fix (config, missing files, offline hub models, API keys).

The entry point reports them as one line and exits with code 2, with no traceback: a stack trace would
bury the one sentence that says what to do.
"""


class UserError(Exception):
    """A problem with the run's inputs, reported as one line."""
