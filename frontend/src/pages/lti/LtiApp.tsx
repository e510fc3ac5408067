import { useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";

import { api, must } from "../../api/client";
import { session } from "../../api/session";
import { Spinner } from "../../components/Status";
import { exchangeLaunchCode, LaunchError, MISSING_CODE, startLaunchSession, targetPath } from "../../lib/lti";

/**
 * `/lti/app?code=…`: where an LTI launch lands. The code leaves the address bar at once (it is single use,
 * but it should not sit in history or a referrer), is exchanged for an embedded session, and the app moves
 * on to what was launched.
 */
export default function LtiApp() {
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  // One exchange even when React runs the effect twice (development StrictMode): the code is single use.
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    const code = new URLSearchParams(window.location.search).get("code");
    window.history.replaceState(window.history.state, "", "/lti/app");
    if (!code) {
      setError(MISSING_CODE);
      return;
    }
    void (async () => {
      try {
        const launched = await exchangeLaunchCode(code);
        startLaunchSession(launched);
        session.setMe(await must(api.GET("/v1/me")));
        navigate(targetPath(launched.target), { replace: true });
      } catch (caught) {
        session.setMe(null);
        setError(caught instanceof LaunchError || caught instanceof Error ? caught.message : String(caught));
      }
    })();
  }, [navigate]);

  if (error) {
    return (
      <main id="main" className="embedded-page" tabIndex={-1}>
        <div className="card lti-error" role="alert">
          <h1>We couldn't open this activity</h1>
          <p>{error}</p>
        </div>
      </main>
    );
  }
  return (
    <main id="main" className="embedded-page">
      <Spinner label="Opening the activity…" />
    </main>
  );
}
