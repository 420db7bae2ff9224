"""The roles of staff and expert accounts (settings name them too, hence their own module)."""

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    accountant = "accountant"
    expert = "expert"
