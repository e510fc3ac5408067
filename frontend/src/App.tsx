import { lazy, Suspense, type ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";

import { Layout } from "./components/Layout";
import { Spinner } from "./components/Status";
import { EXPIRED_LINK, inFrame } from "./lib/lti";
import { useSession } from "./lib/useSession";
import { Catalog } from "./pages/Catalog";
import { Login } from "./pages/Login";
import { MyLearning } from "./pages/MyLearning";
import { NotFound } from "./pages/NotFound";

// The course player carries Markdown, highlighting and the tutor client: loaded when first opened.
const CoursePlayer = lazy(() => import("./pages/CoursePlayer"));
const Teaching = lazy(() => import("./pages/teach"));
const AdminOverview = lazy(() => import("./pages/admin"));
const AiUsage = lazy(() => import("./pages/admin/AiUsage"));
// Prompts and experiments (issue 17): the tutor prompt's versions and the experiments on them.
const Prompts = lazy(() => import("./pages/admin/Prompts"));
// Spaced review sessions carry Markdown rendering: loaded when first opened.
const Reviews = lazy(() => import("./pages/Reviews"));
// Credentials (issue 13): the learner's list, and the public share and verify pages, which anyone may open.
const MyCredentials = lazy(() => import("./pages/credentials/Mine"));
const CredentialShare = lazy(() => import("./pages/credentials/Share"));
// LTI (issue 14): where a launch lands, and the Deep Linking picker; only LMS users ever open them.
const LtiApp = lazy(() => import("./pages/lti/LtiApp"));
const DeepLinkPicker = lazy(() => import("./pages/lti/DeepLinkPicker"));
// Single sign-on (issue 16): where a provider's sign-in lands.
const SsoComplete = lazy(() => import("./pages/SsoComplete"));
// Org admin (issue 17): people and invitations, courses, learners' progress; the public invitation page.
const People = lazy(() => import("./pages/admin/People"));
const AdminCourses = lazy(() => import("./pages/admin/Courses"));
const Progress = lazy(() => import("./pages/Progress"));
const Invite = lazy(() => import("./pages/Invite"));
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
  if (!session.me && (session.embedded || inFrame())) {
    // Inside an LMS a sign-in form cannot keep a session (no cookies): send people back to the LMS instead.
    return (
      <main id="main" className="embedded-page" tabIndex={-1}>
        <div className="card lti-error" role="alert">
          <h1>Your session has ended</h1>
          <p>{EXPIRED_LINK}</p>
        </div>
      </main>
    );
  }
  if (!session.me) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<Login />} />
      <Route
        path="/sso/complete"
        element={
          <Suspense fallback={<Spinner label="Signing you in…" />}>
            <SsoComplete />
          </Suspense>
        }
      />
      <Route
        path="/invite/:token"
        element={
          <Suspense fallback={<Spinner label="Opening your invitation…" />}>
            <Invite />
          </Suspense>
        }
      />
      <Route
        path="/lti/app"
        element={
          <Suspense fallback={<Spinner label="Opening the activity…" />}>
            <LtiApp />
          </Suspense>
        }
      />
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
          path="/admin/people"
          element={
            <Suspense fallback={<Spinner label="Opening…" />}>
              <People />
            </Suspense>
          }
        />
        <Route
          path="/admin/courses"
          element={
            <Suspense fallback={<Spinner label="Opening…" />}>
              <AdminCourses />
            </Suspense>
          }
        />
        <Route
          path="/progress"
          element={
            <Suspense fallback={<Spinner label="Opening…" />}>
              <Progress />
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
        <Route
          path="/admin/ai-usage"
          element={
            <Suspense fallback={<Spinner label="Opening…" />}>
              <AiUsage />
            </Suspense>
          }
        />
        <Route
          path="/admin/prompts"
          element={
            <Suspense fallback={<Spinner label="Opening…" />}>
              <Prompts />
            </Suspense>
          }
        />
        <Route
          path="/lti/deep-link/:id"
          element={
            <Suspense fallback={<Spinner label="Opening…" />}>
              <DeepLinkPicker />
            </Suspense>
          }
        />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
