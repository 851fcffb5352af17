"""Agents (contract in agents.base): oracle, tool agent (classic / Gemini reasoner), LeRobot policies
(X-VLA, ACT, ...)."""
