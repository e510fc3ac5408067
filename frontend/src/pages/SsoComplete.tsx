import { useEffect, useRef, useState } from "react";
import { Link, useNavigate } from "react-router";

import { api, must } from "../api/client";
import { session } from "../api/session";
import { Spinner } from "../components/Status";
import { exchangeSignInCode, MISSING_SIGN_IN_CODE, safeReturnPath, startSsoSession } from "../lib/sso";

/**
 * `/sso/complete?code=…`: where a single sign-on lands (docs/sso.md). The code leaves the address bar at once
 * (single use; it should not sit in history or a referrer), is exchanged for a session like a password sign-in's
 * (refresh token in the HttpOnly cookie), and the app opens the page the person was going to.
 */
export default function SsoComplete() {
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false); // one exchange even when React runs the effect twice: the code is single use

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    const code = new URLSearchParams(window.location.search).get("code");
    window.history.replaceState(window.history.state, "", "/sso/complete");
    if (!code) {
      setError(MISSING_SIGN_IN_CODE);
      return;
    }
    void (async () => {
      try {
        const signedIn = await exchangeSignInCode(code);
        startSsoSession(signedIn);
        session.setMe(await must(api.GET("/v1/me")));
        navigate(safeReturnPath(signedIn.return_to), { replace: true });
      } catch (caught) {
        session.setMe(null);
        setError(caught instanceof Error ? caught.message : String(caught));
      }
    })();
  }, [navigate]);

  if (error) {
    return (
      <main id="main" className="login-page" tabIndex={-1}>
        <div className="card login-card" role="alert">
          <h1>We couldn't sign you in</h1>
          <p>{error}</p>
          <p>
            <Link to="/login">Back to sign-in</Link>
          </p>
        </div>
      </main>
    );
  }
  return (
    <main id="main" className="login-page">
      <Spinner label="Signing you in…" />
    </main>
  );
}
