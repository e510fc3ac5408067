import { useState, type FormEvent } from "react";
import { Navigate, useLocation, useNavigate } from "react-router";

import { signIn } from "../lib/auth";
import { useSession } from "../lib/useSession";

export function Login() {
  const session = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const state = (location.state ?? {}) as { from?: string; signedOut?: boolean };
  const [org, setOrg] = useState(session.org ?? "demo");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (session.me) return <Navigate to={state.from ?? "/"} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(org.trim().toLowerCase(), email.trim(), password);
      navigate(state.from ?? "/", { replace: true });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      setError(
        message.toLowerCase().includes("credentials")
          ? "That email and password don't match an account in this organisation. Check both and try again."
          : message,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="login-page">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title" noValidate>
        <h1 id="login-title">Sign in to Lyceum</h1>
        {state.signedOut && <p className="notice">You've signed out.</p>}
        <label>
          Organisation
          <input name="org" value={org} onChange={(e) => setOrg(e.target.value)} autoComplete="organization" required />
        </label>
        <label>
          Email
          <input
            name="email"
            type="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            autoComplete="username"
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="current-password"
            required
          />
        </label>
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button" disabled={busy || !email || !password || !org}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted small">
          Trying Lyceum locally? The demo learner is <code>learner@demo.test</code> in organisation <code>demo</code>;
          <code> lyceum up</code> prints the password.
        </p>
      </form>
    </main>
  );
}
