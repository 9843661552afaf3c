-- A feed reader's own news (feed/page_queries.py READER_OF_PAGE, on every cached read): whether they deleted a post
-- of the community since the page was read, an old post of theirs or another's as an admin. Deleted posts are few: a
-- partial index answers it with one descent.
CREATE INDEX posts_deleted_by ON posts (deleted_by, deleted_at) WHERE deleted_at IS NOT NULL;
