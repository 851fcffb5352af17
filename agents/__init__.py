"""Agents: the privileged oracle now; the tool agents and the X-VLA agent plug in through agents.base.Agent."""
