/** Words and small helpers shared by the org admin pages (issue 17). Kept free of React so vitest can check them. */

export const ROLE_LABELS: Record<string, string> = { admin: "Admin", instructor: "Instructor", learner: "Learner" };
export const ROLE_ORDER = ["admin", "instructor", "learner"] as const;

export function rolesText(roles: readonly string[]): string {
  return roles.length ? roles.map((r) => ROLE_LABELS[r] ?? r).join(", ") : "No role";
}

/** "3 days ago", "today", "never": last seen, as people say it. */
export function seenText(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "Never";
  const days = Math.floor((now.getTime() - new Date(iso).getTime()) / 86_400_000);
  if (days <= 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days < 60) return `${days} days ago`;
  return new Date(iso).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
}

export const INVITATION_STATUS: Record<string, string> = {
  pending: "Waiting",
  accepted: "Accepted",
  revoked: "Withdrawn",
  expired: "Expired",
};

/** The link to hand over: on this web app's own address (the server's public URL may differ in development). */
export function invitationLink(path: string, origin: string = globalThis.location?.origin ?? ""): string {
  return `${origin}${path}`;
}

/** A share of a whole, as a whole percentage ("0%" when there is nothing to share). */
export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 100) : 0;
}
