from tests.feed.conftest import db, settings, world  # noqa: F401 - the same world as the feed's tests
