"""X-VLA: the contract layer (numpy), in-process LeRobot backend, policy server and client.

The agent itself is :class:`agents.lerobot_agent.LeRobotAgent` with the ``xvla``
contract (its default); ``agents.xvla.XVLAAgent`` names the same class.
"""


def __getattr__(name):  # lazy: agents.lerobot_agent imports this package's contract module
    if name in ("XVLAAgent", "LeRobotAgent"):
        from agents.lerobot_agent import LeRobotAgent
        return LeRobotAgent
    if name == "XVLAContract":
        from agents.xvla.contract import XVLAContract
        return XVLAContract
    raise AttributeError(name)


__all__ = ["LeRobotAgent", "XVLAAgent", "XVLAContract"]
