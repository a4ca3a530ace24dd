"""The one exception type the command line turns into a one-line message."""


class GanlabError(Exception):
    """A problem the user can fix (bad config, missing data, broken model file).

    The command line prints ``error: <message>`` and exits with status 2, so the
    message must name what is wrong and how to fix it, on one line.
    """
