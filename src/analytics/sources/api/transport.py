"""HTTP transport of the connectors: timeouts, retries with backoff, Retry-After.

Every connector talks to its API through one :class:`ApiClient`: an
:class:`httpx.Client` (connection pooling, timeouts) whose requests are
retried by :mod:`tenacity`:

* retried: HTTP 429 and 5xx (500, 502, 503, 504) and transport errors
  (connection refused or reset, read/connect timeouts);
* wait before attempt ``n + 1``: the response's ``Retry-After`` header when
  present (seconds or an HTTP date), else exponential backoff with jitter,
  ``min(max_wait, initial * 2**(n-1)) + U(0, 1)`` seconds; both capped at
  ``max_wait``;
* at most ``max_attempts`` attempts, then :class:`PullError` with one line
  naming the source, method, path and the last status or error.

Secrets travel in headers only (never in URLs, log lines or error
messages): error messages carry the path without the query string and at
most :data:`ERROR_BODY_CHARS` characters of the vendor's error text.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses retried: rate limit and server-side failures."""

ERROR_BODY_CHARS = 200
"""Characters of an error response body quoted in a :class:`PullError`."""


class PullError(RuntimeError):
    """A pull that failed on the vendor's side (after retries) or mid-protocol.

    The message is one line naming the source and what failed; it never holds
    a token. The pull state is left unchanged, so the next pull resumes.
    """


class RetryableStatus(Exception):
    """A response whose status is in :data:`RETRY_STATUSES` (internal)."""

    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value.

    Parameters
    ----------
    value : str or None
        ``"120"`` (seconds) or an HTTP date (``"Wed, 21 Oct 2026 07:28:00 GMT"``).
    now : datetime, optional
        Current UTC time for the date form (default: now).

    Returns
    -------
    float or None
        Seconds (>= 0), or None when the header is absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableStatus | httpx.TransportError)


class _Wait:
    """Tenacity wait: Retry-After when the server sent one, else exponential backoff."""

    def __init__(self, initial: float, max_wait: float):
        self.max_wait = max_wait
        self.backoff = wait_exponential_jitter(initial=initial, max=max_wait, jitter=1)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus):
            after = retry_after_seconds(exc.response.headers.get("Retry-After"))
            if after is not None:
                return min(after, self.max_wait)
        return min(self.backoff(state), self.max_wait)


class ApiClient:
    """One API's HTTP client with timeouts and retries (see the module notes).

    Parameters
    ----------
    source : str
        Connector name, used in messages (``metrica``, ``amocrm``, ...).
    base_url : str
        API root, e.g. ``https://api-metrika.yandex.net``.
    headers : callable, optional
        Returns the authorization headers of each attempt (called per attempt,
        so a refreshed token is used by the retry).
    timeout : float
        Seconds for connect, read, write and pool (default 60).
    max_attempts : int
        Attempts per request, first included (default 5).
    initial_wait, max_wait : float
        Backoff start and cap, seconds (defaults 1 and 120).
    sleep : callable, optional
        ``sleep(seconds)``; tests pass a recorder instead of :func:`time.sleep`.
    transport : httpx.BaseTransport, optional
        For tests; the real network by default.
    """

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        headers: Callable[[], Mapping[str, str]] | None = None,
        timeout: float = 60.0,
        max_attempts: int = 5,
        initial_wait: float = 1.0,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        self.source = source
        self.base_url = base_url.rstrip("/")
        self._headers = headers or (lambda: {})
        self.max_attempts = max_attempts
        self._wait = _Wait(initial_wait, max_wait)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, timeout=httpx.Timeout(timeout), transport=transport
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _once(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {**dict(self._headers()), **kwargs.pop("headers", {})}
        response = self._http.request(method, path, headers=headers, **kwargs)
        if response.status_code in RETRY_STATUSES:
            log.info(
                "%s: %s %s -> HTTP %d, will retry",
                self.source,
                method,
                path,
                response.status_code,
            )
            raise RetryableStatus(response)
        return response

    def request(self, method: str, path: str, *, ok=(200,), **kwargs) -> httpx.Response:
        """Send a request with retries; return the response if its status is in ``ok``.

        Parameters
        ----------
        method, path : str
            HTTP method and path relative to ``base_url`` (or an absolute URL,
            e.g. a ``next`` link).
        ok : tuple of int
            Statuses returned to the caller (others raise :class:`PullError`).
        **kwargs
            Passed to :meth:`httpx.Client.request` (``params``, ``json``,
            ``data``, ``headers``).

        Raises
        ------
        PullError
            A status outside ``ok`` and not retryable, or still failing after
            ``max_attempts`` attempts.
        """
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        where = f"{self.source}: {method} {httpx.URL(path).path or path}"
        try:
            response = retrying(self._once, method, path, **kwargs)
        except RetryableStatus as exc:
            raise PullError(
                f"{where} failed after {self.max_attempts} attempts: "
                f"HTTP {exc.response.status_code} {error_text(exc.response)}".rstrip()
            ) from None
        except httpx.TimeoutException:
            raise PullError(
                f"{where} timed out {self.max_attempts} times "
                f"(timeout {self._http.timeout.read} s each)"
            ) from None
        except httpx.TransportError as exc:
            raise PullError(
                f"{where} failed after {self.max_attempts} attempts: {type(exc).__name__}"
            ) from None
        if response.status_code not in ok:
            raise PullError(
                f"{where} -> HTTP {response.status_code} {error_text(response)}".rstrip()
            )
        return response


def error_text(response: httpx.Response) -> str:
    """The vendor's error message (JSON ``message``/``error_string``/...) or body start."""
    try:
        body = response.json()
    except ValueError:
        text = response.text
    else:
        text = _find_message(body) or str(body)
    return " ".join(text.split())[:ERROR_BODY_CHARS]


def _find_message(body) -> str | None:
    if isinstance(body, dict):
        for key in ("message", "error_string", "error_detail", "hint", "detail", "title"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
        for value in body.values():
            found = _find_message(value)
            if found:
                return found
    if isinstance(body, list):
        for value in body:
            found = _find_message(value)
            if found:
                return found
    return None
