-- Live sockets show how many members of a community are online (seen within PRESENCE_GAP_SECONDS): the recent
-- end of the community's sessions, without reading its whole history.
CREATE INDEX presence_sessions_recent ON presence_sessions (community_id, last_seen_at DESC);
