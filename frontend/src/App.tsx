import { lazy, Suspense, type ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";

import { Layout } from "./components/Layout";
import { Spinner } from "./components/Status";
import { useSession } from "./lib/useSession";
import { Catalog } from "./pages/Catalog";
import { Login } from "./pages/Login";
import { MyLearning } from "./pages/MyLearning";
import { NotFound } from "./pages/NotFound";

// The course player carries Markdown, highlighting and the tutor client: loaded when first opened.
const CoursePlayer = lazy(() => import("./pages/CoursePlayer"));
const Teaching = lazy(() => import("./pages/teach"));
const AdminOverview = lazy(() => import("./pages/admin"));
// Spaced review sessions carry Markdown rendering: loaded when first opened.
const Reviews = lazy(() => import("./pages/Reviews"));
// Credentials (issue 13): the learner's list, and the public share and verify pages, which anyone may open.
const MyCredentials = lazy(() => import("./pages/credentials/Mine"));
const CredentialShare = lazy(() => import("./pages/credentials/Share"));
const VerifyCredential = lazy(() => import("./pages/credentials/Share").then((m) => ({ default: m.VerifyCredentialPage })));

/** Where "/" (and signing in without a deep link) leads: admins to their overview, instructors to the
 * teaching pages, learners to their courses. */
export function landingPath(roles: readonly string[] | undefined): string {
  if (roles?.includes("admin")) return "/admin";
  if (roles?.includes("instructor")) return "/teach";
  return "/learning";
}

function Landing() {
  const { me } = useSession();
  return <Navigate to={landingPath(me?.roles)} replace />;
}

function RequireSession({ children }: { children: ReactNode }) {
  const session = useSession();
  const location = useLocation();
  if (session.restoring) return <Spinner label="Signing you in…" />;
  if (!session.me) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<Login />} />
      {/* Public: outside the sign-in shell, so a share link works for anyone (signed in or not). */}
      <Route
        path="/credentials/verify"
        element={
          <Suspense fallback={<Spinner label="Opening…" />}>
            <VerifyCredential />
          </Suspense>
        }
      />
      <Route
        path="/credentials/:id"
        element={
          <Suspense fallback={<Spinner label="Loading the credential…" />}>
            <CredentialShare />
          </Suspense>
        }
      />
      <Route
        element={
          <RequireSession>
            <Layout />
          </RequireSession>
        }
      >
        <Route index element={<Landing />} />
        <Route path="/learning" element={<MyLearning />} />
        <Route path="/catalog" element={<Catalog />} />
        <Route
          path="/reviews"
          element={
            <Suspense fallback={<Spinner label="Opening your reviews…" />}>
              <Reviews />
            </Suspense>
          }
        />
        <Route
          path="/credentials"
          element={
            <Suspense fallback={<Spinner label="Loading your credentials…" />}>
              <MyCredentials />
            </Suspense>
          }
        />
        <Route
          path="/courses/:courseId/*"
          element={
            <Suspense fallback={<Spinner label="Opening the course…" />}>
              <CoursePlayer />
            </Suspense>
          }
        />
        <Route
          path="/teach/*"
          element={
            <Suspense fallback={<Spinner label="Opening…" />}>
              <Teaching />
            </Suspense>
          }
        />
        <Route
          path="/admin"
          element={
            <Suspense fallback={<Spinner label="Opening…" />}>
              <AdminOverview />
            </Suspense>
          }
        />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
