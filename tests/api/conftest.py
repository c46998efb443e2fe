"""The world of tests/api/world.py for every test of the API."""

from tests.api.world import site, web, world, world_rows  # noqa: F401  (fixtures)
