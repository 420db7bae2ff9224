from tests.fixtures.registry import fake_registry, registry_server

__all__ = ["fake_registry", "registry_server"]
