"""TEMPORARY stub until the store branch lands."""


def check_overrides(argv) -> None:
    return None
