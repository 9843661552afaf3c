"""The WeChat sandbox (`python -m service sandbox`): WeChat's endpoints over real HTTP, state in memory."""

from service.wechat.sandbox.app import CONTROLLERS, create_sandbox_app
from service.wechat.sandbox.state import SandboxConfig, SandboxState

__all__ = ["CONTROLLERS", "SandboxConfig", "SandboxState", "create_sandbox_app"]
