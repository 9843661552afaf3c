from tests.feed.conftest import db, jobs, settings, world  # noqa: F401 - the same world as the feed's tests
