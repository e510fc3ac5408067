/**
 * LTI in the web app (docs/lti.md, "Lyceum inside the LMS"): the launch code exchange, where a launch leads, and whether
 * the app runs embedded (in an LMS iframe, or opened by a launch) so it can use its compact layout.
 */
import { session } from "../api/session";

export type LtiTargetKind = "item" | "course" | "deep_link" | "home";

export interface LtiTarget {
  kind: LtiTargetKind;
  course_id?: string | null;
  item_id?: string | null;
  deep_link_id?: string | null;
}

/** `POST /v1/lti/session`'s answer (LtiSessionOut). */
export interface LtiSession {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
  org: string;
  user: { id: string; name: string; role: string };
  platform: { id: string; name: string };
  target: LtiTarget;
  context: { title: string; label: string };
}

export const EXPIRED_LINK = "This link has expired. Open the activity again from your course.";
export const MISSING_CODE = "This page opens from an activity in your course. Open it again from your LMS.";

export class LaunchError extends Error {}

/** Exchange the one-time launch code for a session (one exchange only: a used or old code is refused). */
export async function exchangeLaunchCode(code: string, fetcher: typeof fetch = fetch): Promise<LtiSession> {
  let response: Response;
  try {
    response = await fetcher("/v1/lti/session", {
      method: "POST",
      credentials: "omit", // nothing here depends on cookies: the LMS iframe may not have any
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code }),
    });
  } catch {
    throw new LaunchError("Lyceum can't be reached. Check your connection, then open the activity again.");
  }
  if (response.status >= 400 && response.status < 500 && response.status !== 429) throw new LaunchError(EXPIRED_LINK);
  if (!response.ok) throw new LaunchError("Lyceum had a problem opening this activity. Please try again in a moment.");
  return (await response.json()) as LtiSession;
}

/** The web app page a launch opens: the item in the course player (tutor beside it), the course, the picker. */
export function targetPath(target: LtiTarget): string {
  if (target.kind === "item" && target.course_id && target.item_id) {
    return `/courses/${target.course_id}/items/${target.item_id}`;
  }
  if ((target.kind === "course" || target.kind === "item") && target.course_id) return `/courses/${target.course_id}`;
  if (target.kind === "deep_link" && target.deep_link_id) return `/lti/deep-link/${encodeURIComponent(target.deep_link_id)}`;
  return "/";
}

/** Start the embedded session a launch handed over. */
export function startLaunchSession(launched: LtiSession): void {
  const context = launched.context.title || launched.context.label;
  session.startEmbedded(launched, launched.org, { platform: launched.platform.name, context });
}

/** Whether this page is framed (an LMS iframe). A cross-origin parent may refuse the comparison: framed. */
export function inFrame(win: Window = window): boolean {
  try {
    return win.self !== win.top;
  } catch {
    return true;
  }
}
