"""The national company registry (API Recherche d'entreprises), read with httpx.

One call, ``GET /search?q={siret}``: a 14-digit ``q`` is a direct lookup that ignores every
other filter, and ``matching_etablissements`` then holds just that establishment. The
establishment's own department and state are what count, not the head office's. Answers
are cached per SIREN; 429 and 5xx are retried with backoff, honouring ``Retry-After``,
within a bounded total time. A registry that cannot answer gives ``unreachable``: the
caller keeps the application and sends it to review.
"""

import asyncio
import logging
import random
import re
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

import httpx

from voucher_service.applications import fictitious_registry
from voucher_service.core.clock import utcnow
from voucher_service.core.config import FICTITIOUS_REGISTRY, Settings

log = logging.getLogger("voucher_service.registry")

OFFLINE = "offline"
USER_AGENT = "MonCoachDigital/1.0 (Region Sud; eligibility checks)"
MAX_ATTEMPTS = 4
CACHE_SIZE = 5000
# Metropolitan departments, Corsica (2A, 2B), the overseas departments (971-976) and the
# overseas collectivities (975 Saint-Pierre-et-Miquelon, 977 Saint-Barthélemy, 978
# Saint-Martin, 986 Wallis-et-Futuna, 987 Polynésie française, 988 Nouvelle-Calédonie).
DEPARTMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-8]|98[6-8])$")
OVERSEAS_COLLECTIVITIES = frozenset({"975", "977", "978", "986", "987", "988"})


class Lookup(StrEnum):
    found = "found"
    not_found = "not_found"
    offline = "offline"
    unreachable = "unreachable"


@dataclass(frozen=True)
class Establishment:
    siret: str
    state: str | None  # A: open, F: closed
    department: str | None  # None when hidden (non-diffusible) or absent
    is_head_office: bool
    diffusible: bool


@dataclass(frozen=True)
class Company:
    siren: str
    name: str | None
    state: str | None  # A: active, C: ceased
    diffusible: bool
    headcount_band: str | None  # INSEE band, e.g. "11" = 10 to 19 employees
    turnover_eur: int | None
    turnover_year: str | None
    establishment: Establishment | None  # the one with the SIRET asked for


@dataclass(frozen=True)
class RegistryAnswer:
    lookup: Lookup
    company: Company | None = None
    detail: str | None = None


class RegistryUnreachable(Exception):
    pass


def department_of(place: dict[str, Any]) -> str | None:
    """An establishment's department: its own field, else from its commune or postcode."""
    department = place.get("departement")
    if isinstance(department, str) and DEPARTMENT.match(department):
        return department
    commune = place.get("commune")
    if isinstance(commune, str) and re.fullmatch(r"[0-9][0-9AB][0-9]{3}", commune):
        code = _leading_department(commune)
        return code if DEPARTMENT.match(code) else None
    postcode = place.get("code_postal")
    if isinstance(postcode, str) and re.fullmatch(r"[0-9]{5}", postcode):
        code = _leading_department(postcode)
        # Corsican postcodes (20xxx) do not say 2A or 2B.
        return code if code != "20" and DEPARTMENT.match(code) else None
    return None


def _leading_department(code: str) -> str:
    """Overseas codes (97xxx, 98xxx) name their department in three digits, others in two."""
    return code[:3] if code.startswith(("97", "98")) else code[:2]


def _establishment(result: dict[str, Any], siret: str) -> Establishment | None:
    siege = result.get("siege") or {}
    matching = [e for e in result.get("matching_etablissements") or [] if e.get("siret") == siret]
    if siege.get("siret") == siret:
        place, head_office = {**(matching[0] if matching else {}), **siege}, True
    elif matching:
        place, head_office = matching[0], bool(matching[0].get("est_siege"))
    else:
        return None
    return Establishment(
        siret=siret,
        state=place.get("etat_administratif"),
        department=department_of(place),
        is_head_office=head_office,
        diffusible=place.get("statut_diffusion_etablissement", "O") == "O",
    )


def _latest_turnover(result: dict[str, Any]) -> tuple[int | None, str | None]:
    finances = result.get("finances") or {}
    years = sorted(
        year for year, figures in finances.items() if (figures or {}).get("ca") is not None
    )
    if not years:
        return None, None
    return int(finances[years[-1]]["ca"]), years[-1]


def company_from(result: dict[str, Any], siret: str) -> Company:
    turnover, year = _latest_turnover(result)
    return Company(
        siren=result["siren"],
        name=result.get("nom_complet") or result.get("nom_raison_sociale"),
        state=result.get("etat_administratif"),
        diffusible=result.get("statut_diffusion", "O") == "O",
        headcount_band=result.get("tranche_effectif_salarie"),
        turnover_eur=turnover,
        turnover_year=year,
        establishment=_establishment(result, siret),
    )


@dataclass
class _CacheEntry:
    expires: float
    result: dict[str, Any]
    establishments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def knows(self, siret: str) -> bool:
        return (
            siret in self.establishments or (self.result.get("siege") or {}).get("siret") == siret
        )

    def result_for(self, siret: str) -> dict[str, Any]:
        matching = [self.establishments[siret]] if siret in self.establishments else []
        return {**self.result, "matching_etablissements": matching}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as delay-seconds or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


class RegistryClient:
    """Looks a SIRET up in the registry; one per process, shared by requests."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 4.0,
        deadline: float = 10.0,
        cache_seconds: float = 3600.0,
    ) -> None:
        mode = base_url.strip().lower()
        self.offline = mode == OFFLINE
        # The fictitious registry answers inside the process, at a name that resolves nowhere.
        self.transport = fictitious_registry.transport() if mode == FICTITIOUS_REGISTRY else None
        self.base_url = "http://registre-fictif.invalid" if self.transport else base_url.rstrip("/")
        self.timeout, self.deadline, self.cache_seconds = timeout, deadline, cache_seconds
        self._cache: dict[str, _CacheEntry] = {}
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "RegistryClient":
        return cls(
            settings.registry_url,
            timeout=settings.registry_timeout_seconds,
            deadline=settings.registry_deadline_seconds,
            cache_seconds=settings.registry_cache_seconds,
        )

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                transport=self.transport,
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def lookup(self, siret: str) -> RegistryAnswer:
        if self.offline:
            return RegistryAnswer(Lookup.offline, detail="non consulté (mode hors ligne)")
        cached = self._cached(siret)
        if cached is not None:
            return self._answer(cached, siret)
        try:
            payload = await self._search(siret)
        except RegistryUnreachable as error:
            log.warning("registry unreachable for %s: %s", siret[:9], error)
            return RegistryAnswer(Lookup.unreachable, detail=str(error))
        result = next(
            (r for r in payload.get("results") or [] if r.get("siren") == siret[:9]), None
        )
        if result is None:
            return RegistryAnswer(Lookup.not_found, detail="SIRET absent de l'annuaire")
        self._store(result)
        return self._answer(result, siret)

    @staticmethod
    def _answer(result: dict[str, Any], siret: str) -> RegistryAnswer:
        try:
            return RegistryAnswer(Lookup.found, company_from(result, siret))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            return RegistryAnswer(Lookup.unreachable, detail=f"réponse illisible ({error!r})")

    def _cached(self, siret: str) -> dict[str, Any] | None:
        entry = self._cache.get(siret[:9])
        if entry is None or entry.expires < time.monotonic() or not entry.knows(siret):
            return None
        return entry.result_for(siret)

    def _store(self, result: dict[str, Any]) -> None:
        siren = result["siren"]
        entry = self._cache.get(siren)
        if entry is None or entry.expires < time.monotonic():
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            entry = _CacheEntry(0, result)
        entry.expires, entry.result = time.monotonic() + self.cache_seconds, result
        for establishment in result.get("matching_etablissements") or []:
            entry.establishments[establishment.get("siret")] = establishment
        self._cache[siren] = entry

    async def _search(self, siret: str) -> dict[str, Any]:
        """The JSON of ``/search?q=siret``, retried within the deadline, or RegistryUnreachable."""
        give_up_at = time.monotonic() + self.deadline
        for attempt in range(1, MAX_ATTEMPTS + 1):
            outcome = await self._attempt(siret, give_up_at - time.monotonic())
            if outcome.payload is not None:
                return outcome.payload
            if attempt == MAX_ATTEMPTS or time.monotonic() + outcome.wait >= give_up_at:
                raise RegistryUnreachable(outcome.problem)
            await asyncio.sleep(outcome.wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, siret: str, remaining: float) -> "_Attempt":
        backoff = 0.25 * 2 ** random.uniform(0, 2)  # noqa: S311
        try:
            response = await self.http.get(
                "/search", params={"q": siret}, timeout=max(0.05, min(self.timeout, remaining))
            )
        except httpx.TimeoutException:
            return _Attempt(wait=backoff, problem=f"pas de réponse en {self.timeout:g} s")
        except httpx.TransportError as error:
            log.info("registry transport error: %r", error)  # what people read stays French
            return _Attempt(wait=backoff, problem="connexion impossible")
        if response.status_code == 200:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            if isinstance(payload, dict):
                return _Attempt(payload=payload)
            return _Attempt(wait=backoff, problem="réponse illisible")
        if response.status_code == 429 or response.status_code >= 500:
            wait = retry_after_seconds(response)
            return _Attempt(
                wait=backoff if wait is None else wait, problem=f"HTTP {response.status_code}"
            )
        raise RegistryUnreachable(f"HTTP {response.status_code}")


@dataclass(frozen=True)
class _Attempt:
    """One request: the payload, or why it failed and how long to wait before retrying."""

    payload: dict[str, Any] | None = None
    wait: float = 0.0
    problem: str = ""
