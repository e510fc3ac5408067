import { useState, type FormEvent } from "react";

import { api, must, type Schemas } from "../../api/client";
import { Dialog } from "../../components/Dialog";
import { EmptyState, ErrorNote, Spinner } from "../../components/Status";
import { INVITATION_STATUS, ROLE_LABELS, ROLE_ORDER, invitationLink, rolesText, seenText } from "../../lib/orgAdmin";
import { useResource } from "../../lib/useResource";
import { useSession } from "../../lib/useSession";
import "../../styles/teach.css";

type User = Schemas["UserOut"];
type Role = (typeof ROLE_ORDER)[number];
const PAGE = 20;

/** People (issue 17): members with search and paging, roles, (de)activation; invitations by one-time link. */
export default function People() {
  return (
    <section aria-labelledby="people-title">
      <div className="page-head">
        <h1 id="people-title">People</h1>
      </div>
      <Members />
      <Invitations />
    </section>
  );
}

function Members() {
  const { me } = useSession();
  const [query, setQuery] = useState("");
  const [search, setSearch] = useState("");
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<User | null>(null);
  const [deactivating, setDeactivating] = useState<User | null>(null);
  const [error, setError] = useState<string | null>(null);
  const members = useResource(
    () => must(api.GET("/v1/users", { params: { query: { q: search || undefined, limit: PAGE, offset } } })),
    [search, offset],
  );

  async function setActive(user: User, active: boolean) {
    setError(null);
    try {
      await must(api.PATCH("/v1/users/{user_id}", { params: { path: { user_id: user.id } }, body: { is_active: active } }));
      setDeactivating(null);
      members.reload();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    setOffset(0);
    setSearch(query.trim());
  }

  const page = members.data;
  return (
    <section aria-labelledby="members-title" className="card">
      <h2 id="members-title">Members</h2>
      <form role="search" className="toolbar" onSubmit={submit}>
        <label>
          Search by name or email
          <input type="search" name="q" value={query} onChange={(e) => setQuery(e.target.value)} />
        </label>
        <button type="submit" className="button secondary">
          Search
        </button>
      </form>
      {error && <ErrorNote message={error} />}
      {members.loading && <Spinner label="Loading people…" />}
      {members.error && <ErrorNote message={members.error} onRetry={members.reload} />}
      {page && page.items.length === 0 && (
        <EmptyState title={search ? "Nobody matches that search" : "No members yet"}>
          <p>{search ? "Try part of a name or an email address." : "Invite people below."}</p>
        </EmptyState>
      )}
      {page && page.items.length > 0 && (
        <>
          <table className="table" data-testid="people-table">
            <caption className="visually-hidden">Members of your organisation</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Roles</th>
                <th scope="col">Status</th>
                <th scope="col">Last seen</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((user) => (
                <tr key={user.id}>
                  <th scope="row">{user.name}</th>
                  <td>{user.email}</td>
                  <td>{rolesText(user.roles)}</td>
                  <td>{user.is_active ? "Active" : "Deactivated"}</td>
                  <td>{seenText(user.last_seen_at)}</td>
                  <td className="toolbar">
                    <button type="button" className="button secondary" onClick={() => setEditing(user)}>
                      Change roles<span className="visually-hidden"> of {user.name}</span>
                    </button>
                    {user.id !== me?.user_id &&
                      (user.is_active ? (
                        <button type="button" className="button secondary" onClick={() => setDeactivating(user)}>
                          Deactivate<span className="visually-hidden"> {user.name}</span>
                        </button>
                      ) : (
                        <button type="button" className="button secondary" onClick={() => void setActive(user, true)}>
                          Reactivate<span className="visually-hidden"> {user.name}</span>
                        </button>
                      ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="toolbar" aria-label="Pages of members">
            <button type="button" className="button secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Previous
            </button>
            <span>
              {offset + 1}–{offset + page.items.length} of {page.total}
            </span>
            <button type="button" className="button secondary" disabled={!page.next} onClick={() => setOffset(offset + PAGE)}>
              Next
            </button>
          </nav>
        </>
      )}
      <RolesDialog user={editing} onClose={() => setEditing(null)} onSaved={members.reload} />
      <Dialog open={deactivating !== null} title={`Deactivate ${deactivating?.name ?? ""}?`} onClose={() => setDeactivating(null)}>
        <p>They are signed out everywhere at once and can't sign in until you reactivate them. Their work and grades stay.</p>
        <p className="toolbar">
          <button type="button" className="button danger" data-autofocus onClick={() => deactivating && void setActive(deactivating, false)}>
            Deactivate
          </button>
          <button type="button" className="button secondary" onClick={() => setDeactivating(null)}>
            Cancel
          </button>
        </p>
      </Dialog>
    </section>
  );
}

function RolesDialog({ user, onClose, onSaved }: { user: User | null; onClose(): void; onSaved(): void }) {
  const [roles, setRoles] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [shownFor, setShownFor] = useState<string | null>(null);
  if (user && shownFor !== user.id) {
    setShownFor(user.id);
    setRoles(new Set(user.roles));
    setError(null);
  }
  async function save(event: FormEvent) {
    event.preventDefault();
    if (!user) return;
    try {
      await must(
        api.PUT("/v1/users/{user_id}/roles", {
          params: { path: { user_id: user.id } },
          body: { roles: ROLE_ORDER.filter((r) => roles.has(r)) as Role[] },
        }),
      );
      setShownFor(null);
      onClose();
      onSaved();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  }
  return (
    <Dialog open={user !== null} title={`Roles of ${user?.name ?? ""}`} onClose={() => { setShownFor(null); onClose(); }}>
      <form onSubmit={save}>
        <fieldset>
          <legend>Roles in this organisation</legend>
          {ROLE_ORDER.map((role) => (
            <label key={role} className="checkbox">
              <input
                type="checkbox"
                checked={roles.has(role)}
                onChange={(e) => {
                  const next = new Set(roles);
                  if (e.target.checked) next.add(role);
                  else next.delete(role);
                  setRoles(next);
                }}
              />
              {ROLE_LABELS[role]}
            </label>
          ))}
        </fieldset>
        <p className="muted small">Removing a role signs the person out, so the change applies at once. The organisation always keeps one active admin.</p>
        {error && <ErrorNote message={error} />}
        <p className="toolbar">
          <button type="submit" className="button" disabled={roles.size === 0}>
            Save roles
          </button>
          <button type="button" className="button secondary" onClick={() => { setShownFor(null); onClose(); }}>
            Cancel
          </button>
        </p>
      </form>
    </Dialog>
  );
}

function Invitations() {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("learner");
  const [error, setError] = useState<string | null>(null);
  const [link, setLink] = useState<{ email: string; url: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const invitations = useResource(() => must(api.GET("/v1/admin/invitations", { params: { query: { limit: 50 } } })), []);

  function show(created: Schemas["InvitationLink"]) {
    setLink({ email: created.invitation.email, url: invitationLink(created.path) });
    setCopied(false);
    invitations.reload();
  }

  async function invite(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      show(await must(api.POST("/v1/admin/invitations", { body: { email: email.trim(), role, accept_mixed_script_email: false } })));
      setEmail("");
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  }

  async function act(id: string, action: "revoke" | "resend") {
    setError(null);
    try {
      if (action === "resend") {
        show(await must(api.POST("/v1/admin/invitations/{invitation_id}/resend", { params: { path: { invitation_id: id } } })));
      } else {
        await must(api.POST("/v1/admin/invitations/{invitation_id}/revoke", { params: { path: { invitation_id: id } } }));
        invitations.reload();
      }
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  }

  return (
    <section aria-labelledby="invite-title" className="card">
      <h2 id="invite-title">Invitations</h2>
      <form className="toolbar" onSubmit={invite} aria-label="Invite someone">
        <label>
          Email
          <input type="email" name="invite-email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </label>
        <label>
          Role
          <select name="invite-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLE_ORDER.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABELS[r]}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="button" disabled={!email.trim()}>
          Invite
        </button>
      </form>
      {error && <ErrorNote message={error} />}
      {link && (
        <div className="notice" role="status" data-testid="invitation-link">
          <p>
            Send this link to {link.email} yourself: Lyceum doesn't send email. It works once and expires in 7 days.
          </p>
          <p className="toolbar">
            <input readOnly aria-label="Invitation link" value={link.url} onFocus={(e) => e.target.select()} size={60} />
            <button
              type="button"
              className="button secondary"
              onClick={() => void navigator.clipboard?.writeText(link.url).then(() => setCopied(true), () => setCopied(false))}
            >
              {copied ? "Copied" : "Copy link"}
            </button>
          </p>
        </div>
      )}
      {invitations.loading && <Spinner label="Loading invitations…" />}
      {invitations.error && <ErrorNote message={invitations.error} onRetry={invitations.reload} />}
      {invitations.data && invitations.data.items.length === 0 && <p className="muted">No invitations yet.</p>}
      {invitations.data && invitations.data.items.length > 0 && (
        <table className="table">
          <caption className="visually-hidden">Invitations, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {invitations.data.items.map((inv) => (
              <tr key={inv.id}>
                <th scope="row">{inv.email}</th>
                <td>{ROLE_LABELS[inv.role] ?? inv.role}</td>
                <td>{INVITATION_STATUS[inv.status] ?? inv.status}</td>
                <td>{new Date(inv.expires_at).toLocaleDateString("en-GB")}</td>
                <td className="toolbar">
                  {(inv.status === "pending" || inv.status === "expired") && (
                    <>
                      <button type="button" className="button secondary" onClick={() => void act(inv.id, "resend")}>
                        New link<span className="visually-hidden"> for {inv.email}</span>
                      </button>
                      <button type="button" className="button secondary" onClick={() => void act(inv.id, "revoke")}>
                        Withdraw<span className="visually-hidden"> invitation of {inv.email}</span>
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
