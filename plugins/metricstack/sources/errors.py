"""How an extraction fails, by what a retry can do about it.

Every extractor raises one of these two, so that a task can retry what may pass
(``TransientSourceError``) and fail for good on what will not (``SourceDataError``).
"""


class ExtractError(RuntimeError):
    """An extraction failed; the message says which source object and why."""


class TransientSourceError(ExtractError):
    """The source was unreachable or failing, even after the retries: retry later."""


class SourceDataError(ExtractError):
    """The source refused the request or answered with unusable data: a retry fails again."""
