"""The roles of staff and expert accounts (settings name them too, hence their own module)."""

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    accountant = "accountant"
    expert = "expert"


# What people read: a role's code never reaches a page or an e-mail.
ROLE_LABELS = {
    Role.admin: "Administrateur ou administratrice",
    Role.accountant: "Comptable",
    Role.expert: "Expert ou experte",
}


def role_names(roles: tuple[Role, ...]) -> str:
    """The roles in French, for a refusal people read."""
    return ", ".join(ROLE_LABELS[role] for role in roles)
