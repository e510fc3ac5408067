"""Just-in-time provisioning and account linking for identities an org's SSO provider vouched for.

Both protocols end here: the OIDC callback and the SAML ACS validate their token or assertion, reduce it to an
``ExternalIdentity`` and call ``ensure_sso_user`` inside a transaction of the connection's org (RLS confines
every write to it). Then ``AuthService.sign_in_federated`` issues the same JWT + rotating refresh pair a
password login gets.

Rules (docs/sso.md):
- an identity seen before (connection + subject) signs in as the user it was provisioned as or linked to;
- otherwise the email's domain must be one of the connection's ``allowed_domains`` (when it names any);
- an existing Lyceum account is linked only by a **verified** email, and only when that account is already a
  member of this org: a provider cannot take over an account of another org (that user's row is not even
  visible here) and an unverified address never links;
- a new identity whose email no account uses gets a new account (no password: it signs in through SSO);
- the role comes from the connection's ``role_claim`` values through ``role_mapping`` (the first mapped value
  wins, highest role first), else ``default_role``; it is applied on every sign-in, so a change at the
  provider reaches Lyceum at the next login. Admins are never demoted by SSO when no claim value maps (the
  break-glass account must survive a misconfigured mapping).

Concurrent first sign-ins of one identity (two tabs) serialize on a transaction-scoped advisory lock keyed by
(connection, subject), so exactly one account is created.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Membership, SsoConnection, SsoIdentity, User
from app.domain.audit.services import record_audit
from app.domain.webhooks.outbox import record_event
from app.lib.errors import Conflict, Forbidden
from app.lib.event_payloads import UserProvisioned
from app.lib.roles import ROLES, Role
from app.lib.text import normalise_email


@dataclass(frozen=True)
class ExternalIdentity:
    """What a validated ID token or SAML assertion says about one person."""

    subject: str  # OIDC ``sub`` / SAML NameID: stable at the provider
    email: str
    email_verified: bool
    name: str = ""
    role_values: tuple[str, ...] = field(default_factory=tuple)  # values of the connection's role claim


@dataclass(frozen=True)
class SsoUser:
    user_id: UUID
    role: Role
    created: bool  # a new Lyceum account (the ``user.provisioned`` event)
    linked: bool  # an existing account linked to this identity for the first time


class SsoNotAllowed(Forbidden):
    slug, title = "sso-not-allowed", "This sign-in is not allowed"


def mapped_role(connection: SsoConnection, values: tuple[str, ...]) -> Role | None:
    """The highest role any of ``values`` maps to through the connection's mapping, or None."""
    mapped = {connection.role_mapping.get(value) for value in values} & set(ROLES)
    for role in ROLES:  # ROLES is ordered admin, instructor, learner
        if role in mapped:
            return role
    return None


def email_domain_allowed(connection: SsoConnection, email: str) -> bool:
    allowed = {domain.strip().lower().lstrip("@") for domain in connection.allowed_domains if domain.strip()}
    if not allowed:
        return True
    return email.rpartition("@")[2] in allowed


async def ensure_sso_user(
    session: AsyncSession, connection: SsoConnection, identity: ExternalIdentity, *, request_id: str = ""
) -> SsoUser:
    """The Lyceum user ``identity`` signs in as in the connection's org, provisioned or linked on first sight,
    holding the role the connection maps it to. Raises ``SsoNotAllowed`` / ``Conflict`` with the reason."""
    if not connection.enabled:
        raise SsoNotAllowed("Single sign-on is turned off for this organization")
    subject = identity.subject.strip()
    if not subject:
        raise SsoNotAllowed("The identity provider did not name the user (no subject)")
    email = normalise_email(identity.email)
    await session.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"lyceum:sso_identity:{connection.id}:{subject}"},
    )
    org_id = connection.org_id
    known = await session.scalar(
        select(SsoIdentity).where(SsoIdentity.connection_id == connection.id, SsoIdentity.subject == subject)
    )
    wanted = mapped_role(connection, identity.role_values)
    created = linked = False
    if known is not None:
        user_id = known.user_id
        known.last_login_at = datetime.now(UTC)
        if email and email != known.email:
            known.email = email
    else:
        if not email or "@" not in email:
            raise SsoNotAllowed("The identity provider did not send an email address")
        if not email_domain_allowed(connection, email):
            raise SsoNotAllowed(f"Accounts of {email.rpartition('@')[2]} may not sign in here")
        # Visible under RLS only when the account is the caller's or a member of this org (migration 0001).
        existing = await session.scalar(select(User).where(User.email == email))
        if existing is not None:
            if not identity.email_verified:
                raise SsoNotAllowed(
                    "An account with this email already exists, and the identity provider has not verified the "
                    "address: ask your administrator to verify it at the provider"
                )
            user_id, linked = existing.id, True
        else:
            user_id, created = uuid.uuid4(), True
            # A plain INSERT: ON CONFLICT (and RETURNING) would check the new row against the SELECT policy,
            # and it is not visible under RLS until its membership exists. An address taken by an account
            # outside this org (invisible here) is a unique violation, caught inside a savepoint.
            try:
                async with session.begin_nested():
                    await session.execute(
                        insert(User).values(
                            id=user_id,
                            email=email,
                            name=(identity.name or email.partition("@")[0])[:200],
                            password_hash=None,  # SSO-only: signs in through the provider
                            is_active=True,
                        )
                    )
            except IntegrityError as exc:
                # The address belongs to an account outside this org: never linked across orgs.
                raise Conflict(
                    "This email belongs to a Lyceum account outside this organization; an admin of this "
                    "organization can add that account, then single sign-on links to it"
                ) from exc
        session.add(
            SsoIdentity(
                org_id=org_id,
                connection_id=connection.id,
                subject=subject,
                user_id=user_id,
                email=email,
                last_login_at=datetime.now(UTC),
            )
        )
        await session.flush()
    role = await _apply_role(session, connection, org_id, user_id, wanted)
    if created:
        record_audit(
            session,
            org_id=org_id,
            actor_id=None,
            action="sso.user_provisioned",
            entity_type="user",
            entity_id=user_id,
            after={"connection_id": str(connection.id), "protocol": connection.protocol, "role": role},
            request_id=request_id,
        )
        provisioned = UserProvisioned(
            user_id=user_id, role=role, source="saml" if connection.protocol == "saml" else "oidc"
        )
        await record_event(session, org_id, provisioned)  # webhooks: with the new account
    elif linked:
        record_audit(
            session,
            org_id=org_id,
            actor_id=None,
            action="sso.account_linked",
            entity_type="user",
            entity_id=user_id,
            after={"connection_id": str(connection.id), "protocol": connection.protocol},
            request_id=request_id,
        )
    if identity.name and not created:
        await session.execute(update(User).where(User.id == user_id).values(name=identity.name[:200]))
    return SsoUser(user_id=user_id, role=role, created=created, linked=linked)


async def _apply_role(
    session: AsyncSession, connection: SsoConnection, org_id: UUID, user_id: UUID, wanted: Role | None
) -> Role:
    """Give the user the mapped role (and only it). With no claim value mapped, a member keeps the roles they
    have (an admin is never demoted by a missing claim) and a newcomer gets the connection's default role."""
    current = set(
        await session.scalars(select(Membership.role).where(Membership.org_id == org_id, Membership.user_id == user_id))
    )
    if wanted is None:
        for role in ROLES:
            if role in current:
                return role
    target: Role = wanted if wanted is not None else next((r for r in ROLES if r == connection.default_role), "learner")
    if current != {target}:
        await session.execute(
            delete(Membership).where(
                Membership.org_id == org_id, Membership.user_id == user_id, Membership.role != target
            )
        )
        await session.execute(
            insert(Membership)
            .values(id=uuid.uuid4(), org_id=org_id, user_id=user_id, role=target)
            .on_conflict_do_nothing(index_elements=["org_id", "user_id", "role"])
        )
    return target
