"""openpi's policy protocol: the wire format, a client, the ``agent=openpi`` agent and a test server."""

from agents.openpi.agent import OpenPIAgent

__all__ = ["OpenPIAgent"]
