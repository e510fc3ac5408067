/**
 * Roles and "staff" (instructors and admins), defined once for the web app; the server's single
 * definition is app/lib/roles.py, and `Role` is generated from it through the OpenAPI document.
 */
import type { components } from "../api/schema";

export type Role = components["schemas"]["Me"]["roles"][number];
export const STAFF_ROLES: readonly Role[] = ["admin", "instructor"];

/** Whether any of `roles` is a staff role (instructor or admin). */
export function isStaff(roles: readonly string[] | undefined): boolean {
  return roles?.some((r) => (STAFF_ROLES as readonly string[]).includes(r)) ?? false;
}
