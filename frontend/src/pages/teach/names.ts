import { useEffect, useState } from "react";

import { api, must } from "../../api/client";

/** Course titles and member names by id, so feed and queue rows read as sentences, not UUIDs. */
export function useNames(): { course(id: unknown): string; person(id: unknown): string } {
  const [courses, setCourses] = useState<Map<string, string>>(new Map());
  const [people, setPeople] = useState<Map<string, string>>(new Map());
  useEffect(() => {
    void must(api.GET("/v1/courses", { params: { query: { limit: 100 } } }))
      .then((page) => setCourses(new Map(page.items.map((c) => [c.id, c.title]))))
      .catch(() => undefined);
    void must(api.GET("/v1/users", { params: { query: { limit: 100 } } }))
      .then((page) => setPeople(new Map(page.items.map((u) => [u.id, u.name]))))
      .catch(() => undefined);
  }, []);
  return {
    course: (id) => (typeof id === "string" && courses.get(id)) || "a course",
    person: (id) => (typeof id === "string" && people.get(id)) || "a learner",
  };
}
