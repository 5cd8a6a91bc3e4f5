"""The one exception type for mistakes a user can fix.

Every error a user causes (a bad flag, missing data, a foreign checkpoint) is a `UserError` whose
message is one line naming the problem and the fix. The CLI prints it without a traceback and exits
with status 2; bugs raise ordinary exceptions and keep their tracebacks.
"""


class UserError(Exception):
    """A mistake in the user's input; `str(error)` is the whole one-line message."""
