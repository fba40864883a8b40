"""The accounts tests use the chat room's fixtures for the console socket."""

from tests.chat.conftest import clients, inbox, site  # noqa: F401 - fixtures
