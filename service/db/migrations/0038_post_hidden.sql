-- When reports hid a post (moderation's `hide`), until a person decides: its author may not edit it back into
-- sight meanwhile (service/feed/posts.py). Held for WeChat's review is `pending` with a `check_label`.
ALTER TABLE posts ADD COLUMN IF NOT EXISTS hidden_at timestamptz;
