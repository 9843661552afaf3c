"""WeChat: the async API client, open-data crypto, session-key sealing, and the sandbox that emulates it."""
