"""The one retry policy of the engine (tenacity): a few tries with a short, growing pause.

Used where a retry is harmless and the cause is transient: ingest re-checks its batch after a
concurrent writer's `Conflict`; the relay re-opens a stale projection handle. One layer
retries a failure, never the layers above it as well (no retry of a retry).
"""

from __future__ import annotations

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

ATTEMPTS = 5


def retrying(*errors: type[BaseException], attempts: int = ATTEMPTS, first_wait: float = 0.05) -> Retrying:
    """`for attempt in retrying(Conflict): with attempt: ...` - the last failure is re-raised as is."""
    return Retrying(
        retry=retry_if_exception_type(errors),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=first_wait, max=1.0),
        reraise=True,
    )
