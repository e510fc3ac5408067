import { useEffect, useState, type FormEvent } from "react";
import { Navigate, useLocation, useNavigate } from "react-router";

import { ApiError } from "../api/client";
import { signIn } from "../lib/auth";
import { usePublicConfig } from "../lib/publicConfig";
import { buttonLabel, fetchProviders, loginHref, orgSlug, type SsoProviders } from "../lib/sso";
import { useSession } from "../lib/useSession";

const WRONG_CREDENTIALS = "That email and password don't match an account in this organisation. Check both and try again.";

/** The sign-in buttons to point at when SSO is required, as people see them on this page. */
function ssoButtons(sso: SsoProviders | null): string {
  const labels = (sso?.providers ?? []).map((provider) => `"${buttonLabel(provider)}"`);
  return labels.length ? `Use ${labels.join(" or ")} below.` : "Use your organisation's sign-in button instead.";
}

/** The page's own words for a failed sign-in; the server's text is for API clients (and in US spelling). */
export function signInMessage(err: unknown, sso: SsoProviders | null = null): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return WRONG_CREDENTIALS;
    // SSO required (docs/sso.md): the password was right, but members of this org sign in through their provider.
    if (err.status === 403 && err.problem.type?.endsWith("/sso-required")) {
      return `Members of this organisation sign in with single sign-on, not a password. ${ssoButtons(sso)}`;
    }
    if (err.status === 422 || err.status === 400) return "Check the organisation and email address, then try again.";
  }
  return err instanceof Error ? err.message : String(err);
}

/** Demo mode (GET /v1/config): only a demo deployment mentions its demo accounts. */
function useDemoMode(): boolean {
  return Boolean(usePublicConfig()?.demo_mode);
}

/** The organisation's single sign-on providers, looked up shortly after typing stops (GET /v1/auth/sso/{org}). */
function useSsoProviders(org: string): SsoProviders | null {
  const [found, setFound] = useState<SsoProviders | null>(null);
  useEffect(() => {
    const slug = orgSlug(org);
    if (!slug) {
      setFound(null);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      void fetchProviders(slug).then((answer) => live && setFound(answer));
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [org]);
  return found;
}

export function Login() {
  const session = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const state = (location.state ?? {}) as { from?: string; signedOut?: boolean };
  // `?org=` from the SSO error page's "Back to sign-in" link, so the organisation's buttons are there again.
  const [org, setOrg] = useState(() => orgSlug(new URLSearchParams(location.search).get("org") ?? "") ?? session.org ?? "demo");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const demo = useDemoMode();
  const sso = useSsoProviders(org);

  if (session.me) return <Navigate to={state.from ?? "/"} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(org.trim().toLowerCase(), email.trim(), password);
      navigate(state.from ?? "/", { replace: true });
    } catch (err) {
      setError(signInMessage(err, sso));
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
        {sso && sso.providers.length > 0 && (
          <div className="sso-providers" aria-label="Single sign-on" role="group" data-testid="sso-providers">
            <p className="muted small">
              {sso.sso_required
                ? "This organisation signs in with single sign-on. Use your organisation's account:"
                : "Or use your organisation's account:"}
            </p>
            {sso.providers.map((provider) => (
              <a key={provider.protocol} className="button secondary" href={loginHref(provider, state.from)}>
                {buttonLabel(provider)}
              </a>
            ))}
          </div>
        )}
        {demo && (
          <p className="muted small" data-testid="demo-hint">
            Trying Lyceum locally? The demo learner is <code>learner@demo.test</code> in organisation <code>demo</code>;
            <code> lyceum up</code> prints the password.
          </p>
        )}
      </form>
    </main>
  );
}
