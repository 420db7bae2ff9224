"""The programmes' rules in words for people."""

DEPARTMENT_NAMES = {
    "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes",
    "13": "Bouches-du-Rhône",
    "83": "Var",
    "84": "Vaucluse",
}


def department_label(code: str) -> str:
    """'13' → '13 – Bouches-du-Rhône'; a département outside the region keeps its number."""
    name = DEPARTMENT_NAMES.get(code)
    return f"{code} – {name}" if name else code
