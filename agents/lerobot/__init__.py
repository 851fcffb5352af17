"""Any LeRobot policy closed-loop in the env.

- ``agent.py``: :class:`LeRobotAgent` (``agent=lerobot``, ``agent=xvla``);
- ``contract.py``: env observations -> policy inputs, policy outputs -> env actions
  (the env-layout contract here; X-VLA's in :mod:`agents.xvla.contract`);
- backends (:class:`agents.base.PolicyBackend`): ``backend.py`` (in-process, needs LeRobot)
  and ``client.py`` (a policy server), the server being ``python -m agents.lerobot.serve``
  (``serve.py``; openpi's wire format, :mod:`agents.openpi.wire`);
- ``testing.py``: a deterministic stand-in policy; ``debug.py``: what the policy saw.
"""

from agents.lerobot.agent import LeRobotAgent

__all__ = ["LeRobotAgent"]
