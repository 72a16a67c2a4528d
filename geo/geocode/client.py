"""A geocoding client for one provider: builds the request, rate-limits, retries, caches."""

from __future__ import annotations

import math
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType, ModuleType
from typing import Final, Literal, get_args

from geo import __version__
from geo._errors import InputError
from geo.geocode import amap, nominatim, tianditu
from geo.geocode._http import (
    TRANSIENT_ERRORS,
    GeocodeCache,
    RateLimiter,
    default_cache_path,
    http_get,
)
from geo.geocode.answers import (
    GeocodeStopError,
    Lookup,
    ProviderSpec,
    RowError,
    TransientError,
)

__all__ = ["PROVIDERS", "USER_AGENT", "Geocoder", "ProviderName", "make_geocoder"]

ProviderName = Literal["amap", "tianditu", "nominatim"]
PROVIDERS: Final[tuple[str, ...]] = get_args(ProviderName)

USER_AGENT: Final = f"newtown-atlas/{__version__} (New Town Atlas geocoder; Python urllib)"

#: Each provider's module: ``SPEC``, ``request_params(address, city, key)``, ``parse(body)``.
PROVIDER_MODULES: Final[Mapping[str, ModuleType]] = MappingProxyType({
    "amap": amap, "tianditu": tianditu, "nominatim": nominatim,
})


def provider_spec(provider: str) -> ProviderSpec:
    """The spec of a provider by name; a ValueError naming the choices otherwise."""
    if provider not in PROVIDER_MODULES:
        raise InputError(f"unknown geocoding provider {provider!r}; "
                         f"expected one of {', '.join(PROVIDERS)}")
    spec: ProviderSpec = PROVIDER_MODULES[provider].SPEC
    return spec


class Geocoder:
    """A client for one provider: builds requests, rate-limits, retries, caches, interprets.

    ``sleep`` and ``clock`` are injectable so tests can check waits without waiting.
    """

    def __init__(
        self,
        provider: ProviderName,
        *,
        key: str | None = None,
        base_url: str | None = None,
        cache: GeocodeCache | None = None,
        min_interval_s: float | None = None,
        timeout_s: float = 10.0,
        max_tries: int = 4,
        backoff_s: float = 1.0,
        user_agent: str = USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        spec = provider_spec(provider)
        self.provider: str = provider
        self.label = spec.label
        self._spec = spec
        self._module = PROVIDER_MODULES[provider]
        if spec.key_env is not None and not (key or "").strip():
            raise InputError(f"{spec.label} needs a key: set {spec.key_env} in the environment "
                             "(nothing was sent)")
        self._key = (key or "").strip()
        self.base_url = (base_url or spec.default_base_url).rstrip("/")
        parsed = urllib.parse.urlsplit(self.base_url)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise InputError(f"--base-url must be an http(s) URL such as {spec.default_base_url}, "
                             f"got {base_url!r}")
        self.endpoint = (self.base_url if parsed.path.endswith(spec.path)
                         else self.base_url + spec.path)
        interval = spec.default_min_interval_s if min_interval_s is None else float(min_interval_s)
        if not math.isfinite(interval) or interval < 0:
            raise InputError(f"min_interval_s must be a number of seconds >= 0, got {interval!r}")
        if parsed.hostname == nominatim.PUBLIC_HOST and interval < 1.0:
            raise InputError("the public Nominatim server allows at most 1 request per second "
                             f"(min interval 1.0 s, got {interval} s); point --base-url at your "
                             "own Nominatim to go faster")
        if timeout_s <= 0 or max_tries < 1 or backoff_s < 0:
            raise InputError("timeout_s must be > 0, max_tries >= 1 and backoff_s >= 0; got "
                             f"{timeout_s}, {max_tries}, {backoff_s}")
        self.timeout_s, self.max_tries, self.backoff_s = timeout_s, max_tries, backoff_s
        self.user_agent = user_agent
        self.cache = cache
        self._limiter = RateLimiter(interval, clock, sleep)
        self._sleep = sleep
        self.requests_made = 0
        self.cache_hits = 0

    @property
    def min_interval_s(self) -> float:
        """Seconds kept between the starts of two requests."""
        return self._limiter.min_interval_s

    def _url(self, address: str, city: str) -> str:
        params: dict[str, str] = self._module.request_params(address, city, self._key)
        return f"{self.endpoint}?{urllib.parse.urlencode(params)}"

    def lookup(self, address: str, city: str = "") -> Lookup:
        """Answer for one address, from the cache or the provider.

        Raises GeocodeStopError when the run must end, RowError when only this row fails.
        """
        parse = self._module.parse
        if self.cache is not None:
            hit = self.cache.get(self.provider, self.base_url, address, city)
            if hit is not None:
                body, fetched_at = hit
                try:
                    answer = parse(body)
                except (RowError, TransientError, GeocodeStopError):
                    pass  # an entry that no longer reads as an answer: ask again
                else:
                    self.cache_hits += 1
                    return Lookup(answer, True, fetched_at)
        url = self._url(address, city)
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        last = ""
        transport = False
        for attempt in range(1, self.max_tries + 1):
            self._limiter.wait()
            self.requests_made += 1
            try:
                status, body = http_get(url, headers, self.timeout_s)
            except TRANSIENT_ERRORS as exc:
                reason = getattr(exc, "reason", exc)
                last, transport = f"{type(reason).__name__}: {reason}", True
            else:
                if status in {401, 403, 429}:
                    raise GeocodeStopError(self._refusal(status, body),
                                           reason="quota" if status == 429 else "bad key")
                if status >= 500 or status == 408:
                    last, transport = f"HTTP {status}", False
                elif status != 200:
                    raise RowError(f"{self.label} answered HTTP {status}: {body[:80]!r}")
                else:
                    try:
                        answer = parse(body)
                    except TransientError as exc:
                        last, transport = str(exc), False
                    else:
                        fetched_at = datetime.now(UTC)
                        if self.cache is not None:
                            self.cache.put(self.provider, self.base_url, address, city, body,
                                           fetched_at)
                        return Lookup(answer, False, fetched_at)
            if attempt < self.max_tries:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
        raise RowError(f"no answer after {self.max_tries} tries (last: {last})",
                       transport=transport)

    def _refusal(self, status: int, body: str) -> str:
        text = " ".join(body.split())[:120]
        if status == 429:
            advice = ("too many requests or the quota is used up; re-run later or with a larger "
                      "--min-interval-s (answers so far are cached)")
        elif self._spec.key_env is not None:
            advice = f"the key was refused; check {self._spec.key_env}"
        else:
            advice = ("access refused; the public server blocks clients that break its usage "
                      "policy (1 request/s, an identifying User-Agent)")
        return f"{self.label} answered HTTP {status} ({text or 'no body'}): {advice}"

    def close(self) -> None:
        """Close the cache, if any."""
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Geocoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_geocoder(
    provider: ProviderName,
    *,
    base_url: str | None = None,
    cache_path: str | os.PathLike[str] | None = None,
    min_interval_s: float | None = None,
    timeout_s: float = 10.0,
    max_tries: int = 4,
    backoff_s: float = 1.0,
    environ: Mapping[str, str] | None = None,
) -> Geocoder:
    """A Geocoder with its key from the environment (AMAP_KEY / TIANDITU_KEY) and a disk cache.

    A missing key is a ValueError here, before the cache is opened or anything is sent.
    """
    key_env = provider_spec(provider).key_env
    env = os.environ if environ is None else environ
    key = env.get(key_env, "") if key_env else None
    # Validate everything (key, URL, interval) before touching the cache file.
    Geocoder(provider, key=key, base_url=base_url, min_interval_s=min_interval_s,
             timeout_s=timeout_s, max_tries=max_tries, backoff_s=backoff_s)
    cache = GeocodeCache(cache_path if cache_path is not None else default_cache_path())
    return Geocoder(provider, key=key, base_url=base_url, cache=cache,
                    min_interval_s=min_interval_s, timeout_s=timeout_s, max_tries=max_tries,
                    backoff_s=backoff_s)
