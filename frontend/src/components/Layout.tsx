import { useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";

import { signOut } from "../lib/auth";
import { useSession } from "../lib/useSession";

export function Layout() {
  const { me } = useSession();
  const navigate = useNavigate();
  const [leaving, setLeaving] = useState(false);

  async function leave() {
    setLeaving(true);
    try {
      await signOut();
    } finally {
      navigate("/login", { replace: true, state: { signedOut: true } });
    }
  }

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="Lyceum home">
          Lyceum
        </NavLink>
        <nav aria-label="Main">
          <NavLink to="/learning">My learning</NavLink>
          <NavLink to="/catalog">Catalogue</NavLink>
          {me?.roles.some((r) => r === "instructor" || r === "admin") && (
            <>
              <NavLink to="/teach/feed">Live feed</NavLink>
              <NavLink to="/teach/queue">Review queue</NavLink>
              <NavLink to="/teach/metrics">Grading quality</NavLink>
            </>
          )}
          {me?.roles.includes("admin") && <NavLink to="/admin">Administration</NavLink>}
        </nav>
        <div className="whoami">
          <span className="muted" title={me?.email}>
            {me?.name} · {me?.org}
          </span>
          <button type="button" className="button secondary small" onClick={leave} disabled={leaving}>
            {leaving ? "Signing out…" : "Sign out"}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
