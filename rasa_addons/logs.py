"""Log lines never carry a credential, whichever server, logger or handler writes them.

Both servers read `logging.yml` (`rasa run --logging-config-file`, rasa-sdk's
`--logging-config_file`). Rasa installs its own coloured handler after reading that file, and
libraries add theirs, so a filter on a handler would be dropped or bypassed. Instead the file's
one filter installs a log record factory: every record is redacted as it is created, with the
redactor that cleans the notes and the secret values recently found (rasa_addons/scrub.py).
At INFO our own code never logs what people type; at DEBUG Rasa does, and that is where this
matters.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_addons.scrub import MEMORY


def redacted_record_factory(base: Any) -> Any:
    """A LogRecord factory that builds records with `base`, then redacts their message."""

    def build(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call is logging's to report, not ours
            return record
        cleaned = MEMORY.scrub(MEMORY.remember(message), redact_first=False)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return record

    build.redacts = True  # type: ignore[attr-defined]
    return build


def install() -> None:
    """Makes every new log record redacted (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "redacts", False):
        logging.setLogRecordFactory(redacted_record_factory(current))


class RedactSecrets(logging.Filter):
    """The filter logging.yml names; building it installs the redacting record factory."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        install()

    def filter(self, record: logging.LogRecord) -> bool:
        return True  # every record passes: it was redacted when it was made
