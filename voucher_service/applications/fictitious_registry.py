"""A registry of fictitious companies, for the demo on a machine with no internet.

It answers ``GET /search?q={siret}`` in the shape of API Recherche d'entreprises (the fields
that the client reads, named and nested as the real API does), inside the process through an
httpx transport: the client parses, caches and checks these answers exactly as the real
registry's. The companies do not exist; their names say so, and their SIRETs are valid only
by their checksum.
"""

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class FictitiousCompany:
    siret: str
    name: str
    department: str
    postcode: str
    town: str
    headcount_band: str  # INSEE band: "02" 3 to 5, "03" 6 to 9, "11" 10 to 19, "21" 50 to 99
    turnover_eur: int
    open: bool = True
    what_it_shows: str = "éligible"


COMPANIES = (
    FictitiousCompany(
        "99900001100018",
        "Atelier des Calanques (fictive)",
        "13",
        "13007",
        "MARSEILLE",
        "03",
        480_000,
    ),
    FictitiousCompany(
        "99900002900010",
        "Boulangerie du Vieux-Port (fictive)",
        "13",
        "13002",
        "MARSEILLE",
        "02",
        210_000,
    ),
    FictitiousCompany(
        "99900003700013",
        "Menuiserie des Alpilles (fictive)",
        "84",
        "84000",
        "AVIGNON",
        "11",
        1_350_000,
    ),
    FictitiousCompany(
        "99900004500016",
        "Conseil de la Seine (fictive)",
        "75",
        "75011",
        "PARIS",
        "03",
        650_000,
        what_it_shows="non éligible : hors de la région",
    ),
    FictitiousCompany(
        "99900005200012",
        "Industries de l'Étang (fictive)",
        "13",
        "13500",
        "MARTIGUES",
        "21",
        9_800_000,
        what_it_shows="non éligible : trop grande",
    ),
    FictitiousCompany(
        "99900006000015",
        "Librairie du Cours (fictive)",
        "83",
        "83000",
        "TOULON",
        "02",
        180_000,
        open=False,
        what_it_shows="non éligible : fermée",
    ),
)
BY_SIRET = {company.siret: company for company in COMPANIES}


def _place(company: FictitiousCompany) -> dict[str, Any]:
    """The head office, which is also the establishment asked for."""
    return {
        "siret": company.siret,
        "adresse": f"1 PLACE DE LA MAIRIE {company.postcode} {company.town}",
        "code_postal": company.postcode,
        "commune": None,
        "libelle_commune": company.town,
        "departement": company.department,
        "est_siege": True,
        "etat_administratif": "A" if company.open else "F",
        "date_fermeture": None if company.open else "2025-06-30",
        "statut_diffusion_etablissement": "O",
        "tranche_effectif_salarie": company.headcount_band,
    }


def result(company: FictitiousCompany) -> dict[str, Any]:
    """One item of the answer's ``results``."""
    place = _place(company)
    return {
        "siren": company.siret[:9],
        "nom_complet": company.name,
        "nom_raison_sociale": company.name.upper(),
        "etat_administratif": "A" if company.open else "C",
        "statut_diffusion": "O",
        "tranche_effectif_salarie": company.headcount_band,
        "finances": {"2024": {"ca": company.turnover_eur, "resultat_net": None}},
        "siege": place,
        "matching_etablissements": [place],
    }


def _answer(request: httpx.Request) -> httpx.Response:
    if request.method != "GET" or request.url.path != "/search":
        return httpx.Response(404, json={"erreur": "Not found"})
    found = BY_SIRET.get(request.url.params.get("q", "").replace(" ", ""))
    results = [result(found)] if found else []
    body = {"results": results, "total_results": len(results), "page": 1, "per_page": 10}
    return httpx.Response(200, json=body)


def transport() -> httpx.MockTransport:
    """An httpx transport that answers as the registry would, without leaving the process."""
    return httpx.MockTransport(_answer)
