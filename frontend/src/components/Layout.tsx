import { useEffect, useRef, useState } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";

import "../styles/lti.css";
import { signOut } from "../lib/auth";
import { inFrame } from "../lib/lti";
import { NavMenu, type NavMenuLink } from "./NavMenu";
import { SearchBox } from "./SearchBox";
import { SiteFooter } from "./SiteFooter";
import { isStaff } from "../lib/roles";
import { useSession } from "../lib/useSession";

/**
 * After an in-app navigation, move focus to the new page's heading so screen readers announce it and the
 * keyboard starts from the top of the new content (a full page load starts there anyway). Pages that load
 * their data show a spinner first: wait for the heading to appear, for a bounded time.
 */
function useFocusHeadingOnNavigation(): void {
  const { pathname } = useLocation();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    return focusHeadingWhenShown();
  }, [pathname]);
}

/** Focus the main heading now, or when it appears (pages that load show a spinner first), for a bounded
 * time. Returns the clean-up. */
export function focusHeadingWhenShown(): (() => void) | undefined {
  const main = document.getElementById("main");
  if (!main) return;
  const focus = (): boolean => {
    const heading = main.querySelector<HTMLElement>("h1");
    if (!heading) return false;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
    return true;
  };
  if (focus()) return;
  const observer = new MutationObserver(() => {
    if (focus()) stop();
  });
  const timer = window.setTimeout(() => stop(), 10_000);
  function stop() {
    observer.disconnect();
    window.clearTimeout(timer);
  }
  observer.observe(main, { childList: true, subtree: true });
  return stop;
}

// Staff's and admins' pages, each group behind a button in the top bar so it does not wrap; learners' own
// links stay in the bar.
const TEACH_LINKS: NavMenuLink[] = [
  { to: "/teach/feed", label: "Live feed" },
  { to: "/teach/queue", label: "Review queue" },
  { to: "/teach/metrics", label: "Grading quality" },
  { to: "/teach/credentials", label: "Credentials" },
  { to: "/teach/authoring", label: "Authoring" },
  { to: "/admin/ai-usage", label: "AI usage" },
  { to: "/teach/alerts", label: "Alerts" },
  { to: "/progress", label: "Progress" },
];
const ADMIN_LINKS: NavMenuLink[] = [
  { to: "/admin", label: "Administration", end: true },
  { to: "/admin/people", label: "People" },
  { to: "/admin/courses", label: "Courses" },
  { to: "/admin/prompts", label: "Prompts and experiments" },
];

export function Layout() {
  useFocusHeadingOnNavigation();
  const { me, embedded } = useSession();
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

  // Inside an LMS (an LTI launch, or any iframe): a slim bar in place of the header, so the page fits a
  // 600-800 px iframe, and a line naming the LMS it was opened from.
  if (embedded || inFrame()) {
    return (
      <div className="embedded">
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="embedded-bar">
          <span className="brand small">Lyceum</span>
          {embedded && (
            <span className="muted small" data-testid="lti-context">
              Opened from {embedded.platform}
              {embedded.context ? ` · ${embedded.context}` : ""}
            </span>
          )}
          <span className="muted small whoami">{me?.name}</span>
        </header>
        <main id="main" tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    );
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
          {/* Learners' badges; staff without the learner role earn none, and their bar is full already. */}
          {(!isStaff(me?.roles) || me?.roles.includes("learner")) && (
            <NavLink to="/credentials" end>
              My credentials
            </NavLink>
          )}
          {isStaff(me?.roles) && <NavMenu label="Teach" links={TEACH_LINKS} />}
          {me?.roles.includes("admin") && <NavMenu label="Admin" links={ADMIN_LINKS} />}
        </nav>
        <SearchBox />
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
      <SiteFooter />
    </>
  );
}
