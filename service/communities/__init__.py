"""Communities and membership: create, discover, join, roles, mute, leave, welcome, introductions."""
