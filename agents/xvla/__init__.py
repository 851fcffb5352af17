"""X-VLA (LeRobot ``lerobot/xvla-widowx``): its contract with the env (``contract.py``: BridgeData
conventions, ``ee6d`` decoding, 6-D rotation orders) and a tiny offline checkpoint builder for tests
(``tiny.py``, LeRobot environment only).

The agent, backends, policy server and client are general LeRobot code in :mod:`agents.lerobot`;
``agent=xvla`` is :class:`agents.lerobot.LeRobotAgent` with ``contract.type=xvla``.
"""
