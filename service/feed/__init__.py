"""The community feed: posts, comments, likes, shares, essence, feeds, content safety and newcomer limits."""
