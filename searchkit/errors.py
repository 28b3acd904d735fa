"""The one exception family of searchkit; the CLI maps each to an exit code."""


class SearchkitError(Exception):
    """Base of every error searchkit reports to a user (exit code 2)."""


class QueryError(SearchkitError):
    """The query string cannot be understood."""


class IndexMissing(SearchkitError):
    """No index exists where one was asked for."""


class IndexLocked(SearchkitError):
    """Another writer holds the index lock."""


class AnalyzerMismatch(SearchkitError):
    """The requested analyzer differs from the one that built the index."""


class IndexDamaged(SearchkitError):
    """The index on disk cannot be read as it is; the message says how to recover."""


class DiskFull(SearchkitError):
    """A write ran out of space; what the run wrote was removed."""


class OutputError(SearchkitError):
    """The results could not be written (a full disk, a failing device)."""


class LinkRefused(SearchkitError):
    """A symbolic link stands where searchkit writes a file of an index."""


class PostMissing(SearchkitError):
    """No post has the path asked for."""
