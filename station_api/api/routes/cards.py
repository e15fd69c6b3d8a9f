"""The card registry: card status and history, report lost or stolen, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from population import cards as registry
from station_api import audit
from station_api.api.deps import CardReader, CardReplacer, CardReporter, CardRevoker, SessionDep, StateDep
from station_api.api.schemas import (
    ApplicationOut,
    CardDetail,
    CardOut,
    LossReport,
    PersonalIdQuery,
    ReplacementIn,
    Revocation,
)

router = APIRouter(prefix="/cards", tags=["cards"])

CardNumber = Annotated[str, Path(min_length=4, max_length=32, pattern=r"^[A-Za-z0-9-]+$")]


@router.post("/search", response_model=list[CardOut], summary="Every card of a person (personal ID in the body)")
def search(body: PersonalIdQuery, principal: CardReader, session: SessionDep) -> list[CardOut]:
    with audit.decision(
        session, actor=principal.actor, action="card.search", target=f"citizen:{body.personal_id}"
    ) as d:
        cards = registry.cards_of_person(session, body.personal_id)
        d.outcome, d.details = "found", {"cards": len(cards)}
    return [CardOut.from_card(c) for c in cards]


@router.get("/{card_number}", response_model=CardDetail, summary="A card's registry record and status history")
def get_card(card_number: CardNumber, principal: CardReader, session: SessionDep) -> CardDetail:
    with audit.decision(session, actor=principal.actor, action="card.read", target=f"card:{card_number}") as d:
        card = registry.get_card(session, card_number)
        history = registry.card_history(session, card_number)
        d.outcome = "found"
    return CardDetail.from_card(card, history)


@router.post("/{card_number}/loss", response_model=CardOut, summary="Report a card lost or stolen")
def report_loss(card_number: CardNumber, body: LossReport, principal: CardReporter, session: SessionDep) -> CardOut:
    action = "card.report_stolen" if body.stolen else "card.report_lost"
    with audit.decision(session, actor=principal.actor, action=action, target=f"card:{card_number}") as d:
        card = registry.report_lost(
            session, card_number, actor=principal.actor[:64], stolen=body.stolen, reason=body.note
        )
        d.details = {"status": card.status}
    return CardOut.from_card(card)


@router.post("/{card_number}/revocation", response_model=CardOut, summary="Revoke a card (supervisor)")
def revoke(card_number: CardNumber, body: Revocation, principal: CardRevoker, session: SessionDep) -> CardOut:
    with audit.decision(session, actor=principal.actor, action="card.revoke", target=f"card:{card_number}") as d:
        d.details = {"reason": body.reason}
        card = registry.revoke_card(session, card_number, actor=principal.actor[:64], reason=body.reason)
    return CardOut.from_card(card)


@router.post(
    "/{card_number}/replacement",
    response_model=ApplicationOut,
    status_code=201,
    summary="Open a replacement application for this card's holder (the card is replaced when the new one is issued)",
)
def replace(
    card_number: CardNumber, body: ReplacementIn, principal: CardReplacer, session: SessionDep, state: StateDep
) -> ApplicationOut:
    from station_api.services import enrollment

    with audit.decision(session, actor=principal.actor, action="card.replace", target=f"card:{card_number}") as d:
        card = registry.get_card(session, card_number)
        app = enrollment.create_application(
            session,
            principal,
            state.settings.api_station_name,
            card.personal_id,
            body.reason,
            card.card_generation,
            None,
        )
        d.details = {"application": app.id, "reason": body.reason}
    return ApplicationOut.from_app(app)
