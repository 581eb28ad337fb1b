"""Fixtures for the page tests."""

import pytest


@pytest.fixture
def browser_client(client):
    """A Django test client logged in as the given user through the session, as a browser is."""

    def login(user):
        client.force_login(user)
        return client

    return login
