"""Live updates over a WebSocket that wx.connectSocket opens (GET /v1/live, docs/live.md)."""
