"""The warm-up robot: when a community goes quiet (no member post or comment for a while within its active
hours), it posts the next topic of the admins' list, at most once per quiet period."""
