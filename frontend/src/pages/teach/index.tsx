import { Navigate, Route, Routes } from "react-router";

import { EmptyState } from "../../components/Status";
import { isStaff } from "../../lib/roles";
import { useSession } from "../../lib/useSession";
import { Alerts } from "./Alerts";
import { AuthoringEdit } from "./authoring/AuthoringEdit";
import { AuthoringList } from "./authoring/AuthoringList";
import { AuthoringPreview } from "./authoring/AuthoringPreview";
import { Credentials } from "./Credentials";
import { Feed } from "./Feed";
import { Metrics } from "./Metrics";
import { Queue } from "./Queue";
import { Review } from "./Review";

/** The instructors' area: live feed, review queue, grading view, grading-quality metrics, issued credentials and course authoring. */
export default function Teaching() {
  const { me } = useSession();
  if (!isStaff(me?.roles)) {
    return (
      <EmptyState title="For instructors and admins">
        <p>This area shows the live review feed and the grading queue of your organisation.</p>
      </EmptyState>
    );
  }
  return (
    <Routes>
      <Route index element={<Navigate to="feed" replace />} />
      <Route path="feed" element={<Feed />} />
      <Route path="queue" element={<Queue />} />
      <Route path="review/:itemId" element={<Review />} />
      <Route path="review/submission/:submissionId" element={<Review />} />
      <Route path="metrics" element={<Metrics />} />
      <Route path="credentials" element={<Credentials />} />
      <Route path="alerts" element={<Alerts />} />
      <Route path="authoring" element={<AuthoringList />} />
      <Route path="authoring/new" element={<AuthoringEdit key="new" />} />
      <Route path="authoring/:id" element={<AuthoringEdit />} />
      <Route path="authoring/:id/preview" element={<AuthoringPreview />} />
    </Routes>
  );
}
