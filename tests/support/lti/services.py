"""The test platform's LTI Advantage services: an OAuth2 token endpoint, AGS line items and scores, NRPS
memberships with paging. Mounted on a ``PlatformServer`` (tests/support/lti/server.py), so the tool calls
them over real loopback HTTP, as it would call an LMS.

- Token endpoint (``/token``): the client-credentials grant with a JWT client assertion, checked as a
  platform must: the signature against the tool's published key set (``tool_jwks``: a callable returning
  ``/lti/jwks.json``'s body), ``iss`` = ``sub`` = client_id, ``aud`` = the token URL, ``exp`` in the future,
  a ``jti`` never seen before. Every request is counted (``token_requests``) so tests see the cache work.
- AGS: ``/ags/<context>/lineitems`` (GET lists, POST creates: the new line item's URL carries a query
  string, as Moodle's do) and each line item's ``.../scores`` (records every score; ``fail_scores`` makes
  the next N answer an error status, ``reject_scores`` answers every one with a status, ``stall_scores``
  holds the next N open until ``release_scores``; ``result`` is what the gradebook then shows).
- NRPS: ``/nrps/<context>/memberships`` serves ``members`` in pages of ``page_size`` with
  ``Link: <...>; rel="next"``.
Every service call needs a bearer token this endpoint issued, with the scope the call needs (else 401/403).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tests.support.lti.server import PlatformServer, Recorded, Reply

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"

ToolJwks = Callable[[], dict[str, Any]]


def jwks_from_url(url: str) -> ToolJwks:
    """A ``tool_jwks`` that fetches the tool's key set over HTTP (a live server's ``/lti/jwks.json``)."""
    return lambda: httpx.get(url, timeout=10).json()


@dataclass
class ScoreRecord:
    lineitem: str  # the line item's URL (with its query string)
    body: dict[str, Any]
    content_type: str


@dataclass
class LineItem:
    url: str
    body: dict[str, Any]
    scores: list[ScoreRecord] = field(default_factory=list)


class PlatformServices:
    def __init__(self, server: PlatformServer, client_id: str, tool_jwks: ToolJwks, *, token_ttl: int = 3600) -> None:
        self.server = server
        self.client_id = client_id
        self.tool_jwks = tool_jwks
        self.token_ttl = token_ttl
        self.token_requests = 0
        self.refused_assertions: list[str] = []  # why each refused token request was refused
        self.lineitems: dict[str, list[LineItem]] = {}  # by context
        self.members: dict[str, list[dict[str, Any]]] = {}  # by context
        self.page_size = 2
        self._tokens: dict[str, tuple[set[str], float]] = {}
        self._jtis: set[str] = set()
        self._score_failures: list[tuple[int, dict[str, str]]] = []  # answered before any score is recorded
        self._score_rejection: int | None = None
        self._score_stalls = 0  # how many of the next score posts to hold open
        self._held_scores = 0  # score posts received and held open right now
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        server.route("POST", "/token", self._token)

    # ------------------------------------------------------------------ URLs

    @property
    def token_url(self) -> str:
        return f"{self.server.url}/token"

    def lineitems_url(self, context: str) -> str:
        return f"{self.server.url}/ags/{context}/lineitems"

    def memberships_url(self, context: str) -> str:
        return f"{self.server.url}/nrps/{context}/memberships"

    # ------------------------------------------------------------------ knobs

    def add_context(self, context: str) -> None:
        self.lineitems.setdefault(context, [])
        self.server.route("GET", f"/ags/{context}/lineitems", lambda r: self._list_lineitems(context, r))
        self.server.route("POST", f"/ags/{context}/lineitems", lambda r: self._create_lineitem(context, r))
        self.server.route("GET", f"/nrps/{context}/memberships", lambda r: self._memberships(context, r))

    def add_lineitem(self, context: str, body: dict[str, Any]) -> LineItem:
        """A line item the platform already has (a deep-linked assessment's); returns it."""
        number = next(self._ids)
        path = f"/ags/{context}/lineitems/{number}/lineitem"
        item = LineItem(url=f"{self.server.url}{path}?type_id={number}", body={**body})
        item.body["id"] = item.url
        with self._lock:
            self.lineitems.setdefault(context, []).append(item)
        self.server.route("POST", f"{path}/scores", lambda r: self._score(item, r))
        return item

    def fail_scores(self, status: int, times: int, headers: dict[str, str] | None = None) -> None:
        """The next ``times`` score posts answer ``status`` (429 with ``Retry-After``, a 500...)."""
        with self._lock:
            self._score_failures.extend([(status, headers or {})] * times)

    def reject_scores(self, status: int | None) -> None:
        """Every score post answers ``status`` (a 400: the tool must not retry), or None to accept again."""
        self._score_rejection = status

    def stall_scores(self, times: int) -> None:
        """The next ``times`` score posts are received and then held open, unanswered, until
        ``release_scores``: a tool caught mid-post (killed while it waits for the answer). A released post
        is then handled as any other: a platform records what it received even if the tool hung up."""
        with self._lock:
            self._score_stalls += times
            self._released.clear()

    @property
    def held_scores(self) -> int:
        """How many score posts are being held open now (received, not yet answered)."""
        with self._lock:
            return self._held_scores

    def release_scores(self) -> None:
        """Let every held score post go on (and the ones ``stall_scores`` still owes pass unheld)."""
        with self._lock:
            self._score_stalls = 0
            self._released.set()

    def result(self, item: LineItem, user_id: str) -> dict[str, Any] | None:
        """The score the gradebook shows for ``user_id`` on ``item`` (None before any), as AGS 2.0 defines
        it: each score received replaces the result, except that the platform "MUST NOT update a result if
        the last timestamp on record is later than the incoming score update". A score sent again with the
        same timestamp (a retried post) leaves the same result."""
        shown: dict[str, Any] | None = None
        with self._lock:
            scores = [s.body for s in item.scores if s.body.get("userId") == user_id]
        for body in scores:
            if shown is None or _instant(body["timestamp"]) >= _instant(shown["timestamp"]):
                shown = body
        return shown

    def set_members(self, context: str, members: list[dict[str, Any]], page_size: int = 2) -> None:
        self.members[context] = members
        self.page_size = page_size

    def scores(self, context: str | None = None) -> list[ScoreRecord]:
        with self._lock:
            items = [i for c, items in self.lineitems.items() if context in (None, c) for i in items]
            return [s for i in items for s in i.scores]

    # ------------------------------------------------------------------ token endpoint

    def _token(self, request: Recorded) -> Reply:
        with self._lock:
            self.token_requests += 1
        form = request.form()
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != ASSERTION_TYPE:
            return self._refuse("unsupported_grant_type", "grant_type or client_assertion_type")
        try:
            keys = KeySet.import_key_set(self.tool_jwks())
            token = jwt.decode(form.get("client_assertion", ""), keys, algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            return self._refuse("invalid_client", f"signature: {exc!r}")
        claims, now = token.claims, time.time()
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            return self._refuse("invalid_client", "iss/sub is not the client_id")
        audience = claims.get("aud")
        if self.token_url not in (audience if isinstance(audience, list) else [audience]):
            return self._refuse("invalid_client", "aud is not the token endpoint")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= now:
            return self._refuse("invalid_client", "expired")
        if not isinstance(claims.get("iat"), int | float) or claims["iat"] > now + 60:
            return self._refuse("invalid_client", "iat in the future")
        jti = claims.get("jti")
        with self._lock:
            if not isinstance(jti, str) or jti in self._jtis:
                return self._refuse("invalid_client", "jti missing or replayed")
            self._jtis.add(jti)
            access = secrets.token_urlsafe(24)
            scopes = set(form.get("scope", "").split())
            self._tokens[access] = (scopes, now + self.token_ttl)
        body = {"access_token": access, "token_type": "Bearer", "expires_in": self.token_ttl, "scope": " ".join(scopes)}
        return Reply(200, body)

    def _refuse(self, error: str, why: str) -> Reply:
        with self._lock:
            self.refused_assertions.append(why)
        return Reply(400 if error != "invalid_client" else 401, {"error": error, "error_description": why})

    def _authorized(self, request: Recorded, scope: str) -> Reply | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self._lock:
            granted = self._tokens.get(token)
        if granted is None or granted[1] < time.time():
            return Reply(401, {"error": "invalid_token"})
        if scope not in granted[0]:
            return Reply(403, {"error": "insufficient_scope", "needed": scope})
        return None

    # ------------------------------------------------------------------ AGS

    def _list_lineitems(self, context: str, request: Recorded) -> Reply:
        refused = self._authorized(request, SCOPE_LINEITEM)
        if refused is not None:
            return refused
        with self._lock:
            body = [i.body for i in self.lineitems.get(context, [])]
        return Reply(200, body, content_type="application/vnd.ims.lis.v2.lineitemcontainer+json")

    def _create_lineitem(self, context: str, request: Recorded) -> Reply:
        refused = self._authorized(request, SCOPE_LINEITEM)
        if refused is not None:
            return refused
        if not request.headers.get("content-type", "").startswith(LINEITEM_TYPE):
            return Reply(415, {"error": "a line item must be sent as " + LINEITEM_TYPE})
        body = request.json()
        if not isinstance(body.get("scoreMaximum"), int | float) or body["scoreMaximum"] <= 0 or not body.get("label"):
            return Reply(400, {"error": "scoreMaximum and label are required"})
        item = self.add_lineitem(context, body)
        return Reply(201, item.body, content_type=LINEITEM_TYPE)

    def _score(self, item: LineItem, request: Recorded) -> Reply:
        refused = self._authorized(request, SCOPE_SCORE)
        if refused is not None:
            return refused
        with self._lock:
            failure = self._score_failures.pop(0) if self._score_failures else None
        if failure is not None:
            return Reply(failure[0], {"error": "try again later"}, headers=failure[1])
        if self._score_rejection is not None:
            return Reply(self._score_rejection, {"error": "this score is refused"})
        with self._lock:
            stall = self._score_stalls > 0
            if stall:
                self._score_stalls -= 1
                self._held_scores += 1
        if stall:  # the whole request is in: the tool now waits for an answer this platform is slow to give
            self._released.wait()
            with self._lock:
                self._held_scores -= 1
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith(SCORE_TYPE):
            return Reply(415, {"error": "a score must be sent as " + SCORE_TYPE})
        body = request.json()
        maximum = body.get("scoreMaximum")
        if "scoreGiven" in body and (maximum is None or body["scoreGiven"] > maximum):
            return Reply(400, {"error": "scoreGiven above scoreMaximum"})
        expected_query = item.url.split("?", 1)[1]
        if "&".join(f"{k}={v[0]}" for k, v in request.query.items()) != expected_query:
            return Reply(404, {"error": "the scores URL lost the line item's query string"})
        with self._lock:
            item.scores.append(ScoreRecord(lineitem=item.url, body=body, content_type=content_type))
        return Reply(200, {})

    # ------------------------------------------------------------------ NRPS

    def _memberships(self, context: str, request: Recorded) -> Reply:
        refused = self._authorized(request, SCOPE_NRPS)
        if refused is not None:
            return refused
        if request.headers.get("accept", "") != MEMBERSHIP_TYPE:
            return Reply(406, {"error": "Accept must be " + MEMBERSHIP_TYPE})
        page = int(request.query.get("page", ["1"])[0])
        members = self.members.get(context, [])
        start = (page - 1) * self.page_size
        chunk = members[start : start + self.page_size]
        headers = {}
        if start + self.page_size < len(members):
            headers["Link"] = f'<{self.memberships_url(context)}?page={page + 1}>; rel="next"'
        body = {"id": self.memberships_url(context), "context": {"id": context}, "members": chunk}
        return Reply(200, body, headers=headers, content_type=MEMBERSHIP_TYPE)


def _instant(timestamp: str) -> datetime:
    """A score's ISO 8601 ``timestamp`` (``...Z``) as an aware datetime: compared as instants, not strings."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
