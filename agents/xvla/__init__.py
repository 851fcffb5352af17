"""X-VLA agent: the contract layer (numpy), in-process LeRobot backend, policy server and client."""

from agents.xvla.agent import XVLAAgent
from agents.xvla.contract import XVLAContract

__all__ = ["XVLAAgent", "XVLAContract"]
