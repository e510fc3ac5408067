import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { api, must, type Schemas } from "../api/client";
import { session } from "../api/session";
import { Spinner } from "../components/Status";
import { ROLE_LABELS } from "../lib/orgAdmin";

/**
 * `/invite/<token>`: where an invitation link lands (issue 17). The person sees which organisation and role it is for,
 * sets their name and password, and is signed in. In an organisation that signs in with single sign-on, they are
 * sent to its sign-in instead.
 */
export default function Invite() {
  const { token = "" } = useParams();
  const navigate = useNavigate();
  const [invitation, setInvitation] = useState<Schemas["InvitationPreview"] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    must(api.POST("/v1/invitations/preview", { body: { token } })).then(
      (found) => live && setInvitation(found),
      (caught: unknown) => live && setProblem(caught instanceof Error ? caught.message : String(caught)),
    );
    return () => {
      live = false;
    };
  }, [token]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!invitation) return;
    setBusy(true);
    setError(null);
    try {
      const tokens = await must(api.POST("/v1/invitations/accept", { body: { token, name, password, refresh_mode: "cookie" } }));
      session.accept(tokens, invitation.org);
      session.setMe(await must(api.GET("/v1/me")));
      navigate("/", { replace: true });
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  }

  if (problem) {
    return (
      <main id="main" className="login-page" tabIndex={-1}>
        <div className="card login-card" role="alert">
          <h1>This invitation can't be used</h1>
          <p>{problem}</p>
          <p>
            <Link to="/login">Go to sign-in</Link>
          </p>
        </div>
      </main>
    );
  }
  if (!invitation) {
    return (
      <main id="main" className="login-page">
        <Spinner label="Opening your invitation…" />
      </main>
    );
  }
  const role = ROLE_LABELS[invitation.role] ?? invitation.role;
  if (invitation.sso_required) {
    return (
      <main id="main" className="login-page">
        <div className="card login-card">
          <h1>Join {invitation.org_name}</h1>
          <p>
            {invitation.org_name} signs in with single sign-on. Continue with your organisation's sign-in as {invitation.email}; no
            password is needed here.
          </p>
          <p>
            <Link className="button" to={`/login?org=${encodeURIComponent(invitation.org)}`}>
              Continue to sign-in
            </Link>
          </p>
        </div>
      </main>
    );
  }
  return (
    <main id="main" className="login-page">
      <form className="card login-card" onSubmit={submit} aria-labelledby="invite-title">
        <h1 id="invite-title">Join {invitation.org_name}</h1>
        <p>
          You've been invited as {/^[aeiou]/i.test(role) ? "an" : "a"} <strong>{role.toLowerCase()}</strong>, with the email{" "}
          <strong>{invitation.email}</strong>. Choose your name and a password to finish.
        </p>
        <label>
          Your name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" required maxLength={200} />
        </label>
        <label>
          Password (at least 10 characters)
          <input
            name="password"
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="new-password"
            minLength={10}
            required
          />
        </label>
        {error && (
          <p className="error-note" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button" disabled={busy || !name.trim() || password.length < 10}>
          {busy ? "Joining…" : "Join and sign in"}
        </button>
      </form>
    </main>
  );
}
