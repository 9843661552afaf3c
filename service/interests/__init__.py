"""Members' interests: keywords of what they write, per member and community (docs/interests.md)."""
