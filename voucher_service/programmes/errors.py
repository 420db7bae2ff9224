from voucher_service.core.errors import Conflict, NotFound, Unprocessable


class ProgrammeNotFound(NotFound):
    code = "programme_not_found"
    title = "Programme introuvable"


class ProgrammeNameTaken(Conflict):
    code = "programme_name_taken"
    title = "Un programme porte déjà ce nom"


class NoOpenProgramme(Unprocessable):
    code = "no_open_programme"
    title = "Aucun programme n'est ouvert aux demandes, ou plusieurs : précisez programme_id"


class ProgrammeClosed(Conflict):
    code = "programme_closed"
    title = "Le programme n'est pas ouvert aux demandes à cette date"


class BudgetExhausted(Conflict):
    code = "budget_exhausted"
    title = "L'enveloppe budgétaire du programme est épuisée"


class BudgetBelowCommitted(Conflict):
    code = "budget_below_committed"
    title = "L'enveloppe ne peut pas descendre sous le montant déjà engagé"


class ProgrammeAlreadyClosed(Conflict):
    code = "programme_already_closed"
    title = "Ce programme est déjà clôturé"


class FrozenOnceOpen(Conflict):
    code = "programme_field_frozen"
    title = "Ce champ ne peut plus changer : le programme a ouvert"
