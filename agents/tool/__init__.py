"""Tool agent: a reasoner (Gemini Robotics-ER or the offline classic one) plus geometry tools."""

from agents.tool.agent import ToolAgent, ToolSettings

__all__ = ["ToolAgent", "ToolSettings"]
