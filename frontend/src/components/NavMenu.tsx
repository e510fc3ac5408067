/**
 * A group of the top bar's links behind a button (the disclosure navigation pattern of the WAI-ARIA
 * Authoring Practices: a button with `aria-expanded`/`aria-controls` and a plain list of links, not an
 * ARIA `menu`, so links stay links and Tab moves through them). Enter or Space on the button opens it,
 * Escape closes it and returns focus to the button; it also closes when a link is followed, when the page
 * changes, on a click outside and when focus leaves the group. The button is marked as current when the
 * page is one of the group's.
 */
import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { NavLink, useLocation } from "react-router";

export interface NavMenuLink {
  to: string;
  label: string;
  /** Matches only the exact path (as NavLink's `end`). */
  end?: boolean;
}

function covers(link: NavMenuLink, pathname: string): boolean {
  return pathname === link.to || (!link.end && pathname.startsWith(`${link.to}/`));
}

export function NavMenu({ label, links }: { label: string; links: NavMenuLink[] }) {
  const [open, setOpen] = useState(false);
  const group = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const panelId = useId();
  const { pathname } = useLocation();
  const current = links.some((link) => covers(link, pathname));

  useEffect(() => setOpen(false), [pathname]);

  useEffect(() => {
    if (!open) return;
    const outside = (event: PointerEvent) => {
      if (!group.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", outside);
    return () => document.removeEventListener("pointerdown", outside);
  }, [open]);

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === "Escape" && open) {
      event.preventDefault();
      setOpen(false);
      button.current?.focus();
    }
  }

  return (
    <div
      className="nav-menu"
      ref={group}
      onKeyDown={onKeyDown}
      onBlur={(event) => {
        // Focus moved to something outside the group (Tab past its last link, Shift+Tab before the button).
        if (event.relatedTarget && !group.current?.contains(event.relatedTarget as Node)) setOpen(false);
      }}
    >
      <button
        ref={button}
        type="button"
        className={`nav-menu-button${current ? " active" : ""}`}
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((was) => !was)}
      >
        {label}
        <span aria-hidden="true" className="nav-menu-caret">
          ▾
        </span>
      </button>
      <ul id={panelId} className="nav-menu-panel" hidden={!open}>
        {links.map((link) => (
          <li key={link.to}>
            <NavLink to={link.to} end={link.end} onClick={() => setOpen(false)}>
              {link.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </div>
  );
}
