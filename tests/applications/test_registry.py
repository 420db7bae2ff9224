"""The registry client against a loopback server speaking the registry's JSON."""

import time

from tests.fixtures.registry import SIRETS, FakeRegistry
from voucher_service.applications.registry import Lookup, RegistryClient


def client_for(registry: FakeRegistry, **options: float) -> RegistryClient:
    return RegistryClient(registry.url, **{"timeout": 1.0, "deadline": 4.0, **options})


class TestLookup:
    async def test_an_active_company_in_13(self, fake_registry: FakeRegistry) -> None:
        client = client_for(fake_registry)
        answer = await client.lookup(SIRETS.marseille)
        await client.aclose()
        assert answer.lookup is Lookup.found and answer.company is not None
        assert answer.company.state == "A" and answer.company.headcount_band == "03"
        place = answer.company.establishment
        assert place is not None and place.is_head_office
        assert (place.state, place.department) == ("A", "13")
        assert fake_registry.requests == [{"q": [SIRETS.marseille]}]

    async def test_a_branch_is_placed_by_its_own_address_not_its_head_office(
        self, fake_registry: FakeRegistry
    ) -> None:
        client = client_for(fake_registry)
        answer = await client.lookup(SIRETS.branch_in_13)
        await client.aclose()
        assert answer.company is not None and answer.company.establishment is not None
        assert not answer.company.establishment.is_head_office
        assert answer.company.establishment.department == "13"

    async def test_overseas_collectivities_are_departments(
        self, fake_registry: FakeRegistry
    ) -> None:
        client = client_for(fake_registry)
        papeete = await client.lookup(SIRETS.papeete)
        branch = await client.lookup(SIRETS.saint_martin_branch)
        await client.aclose()
        places = [answer.company.establishment for answer in (papeete, branch) if answer.company]
        assert [place.department for place in places if place] == ["987", "978"]

    async def test_a_closed_company(self, fake_registry: FakeRegistry) -> None:
        answer = await client_for(fake_registry).lookup(SIRETS.closed)
        assert answer.company is not None and answer.company.establishment is not None
        assert (answer.company.state, answer.company.establishment.state) == ("C", "F")

    async def test_a_non_diffusible_company_has_no_department(
        self, fake_registry: FakeRegistry
    ) -> None:
        answer = await client_for(fake_registry).lookup(SIRETS.hidden)
        assert answer.lookup is Lookup.found and answer.company is not None
        assert not answer.company.diffusible
        assert answer.company.establishment is not None
        assert answer.company.establishment.department is None

    async def test_an_unknown_siret(self, fake_registry: FakeRegistry) -> None:
        assert (await client_for(fake_registry).lookup(SIRETS.unknown)).lookup is Lookup.not_found

    async def test_offline_asks_nobody(self, fake_registry: FakeRegistry) -> None:
        answer = await RegistryClient("offline").lookup(SIRETS.marseille)
        assert answer.lookup is Lookup.offline and fake_registry.requests == []


class TestResilience:
    async def test_retries_after_429_honouring_retry_after(
        self, fake_registry: FakeRegistry
    ) -> None:
        client = client_for(fake_registry)
        started = time.monotonic()
        answer = await client.lookup(SIRETS.rate_limited)
        elapsed = time.monotonic() - started
        await client.aclose()
        assert answer.lookup is Lookup.found
        assert fake_registry.calls_for(SIRETS.rate_limited) == 2
        assert 1.0 <= elapsed < 3.0

    async def test_gives_up_when_retry_after_exceeds_the_deadline(
        self, fake_registry: FakeRegistry
    ) -> None:
        fake_registry.retry_after = "120"
        try:
            started = time.monotonic()
            answer = await client_for(fake_registry).lookup(SIRETS.rate_limited)
        finally:
            fake_registry.retry_after = "1"
        assert answer.lookup is Lookup.unreachable
        assert time.monotonic() - started < 1.0

    async def test_server_errors_are_retried_within_the_deadline(
        self, fake_registry: FakeRegistry
    ) -> None:
        started = time.monotonic()
        answer = await client_for(fake_registry, deadline=2.0).lookup(SIRETS.broken)
        assert answer.lookup is Lookup.unreachable and "500" in (answer.detail or "")
        assert fake_registry.calls_for(SIRETS.broken) >= 2
        assert time.monotonic() - started < 2.5

    async def test_a_hanging_response_times_out(self, fake_registry: FakeRegistry) -> None:
        started = time.monotonic()
        answer = await client_for(fake_registry, timeout=0.3, deadline=1.0).lookup(SIRETS.hanging)
        assert answer.lookup is Lookup.unreachable
        assert time.monotonic() - started < 1.5

    async def test_nobody_listening(self) -> None:
        answer = await RegistryClient("http://127.0.0.1:9", deadline=0.5).lookup(SIRETS.marseille)
        assert answer.lookup is Lookup.unreachable


class TestCache:
    async def test_one_request_per_siren_while_fresh(self, fake_registry: FakeRegistry) -> None:
        client = client_for(fake_registry)
        first = await client.lookup(SIRETS.marseille)
        second = await client.lookup(SIRETS.marseille)
        assert first == second and fake_registry.calls_for(SIRETS.marseille) == 1
        expired = client_for(fake_registry, cache_seconds=0)
        await expired.lookup(SIRETS.marseille)
        await expired.lookup(SIRETS.marseille)
        assert fake_registry.calls_for(SIRETS.marseille) == 3
