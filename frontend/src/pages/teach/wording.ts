/** Human wording for the codes the grading and tutor services record: what instructors read instead. */

export const REVIEW_REASONS: Record<string, string> = {
  grader_error: "Grader error",
  disagreement: "Learner disagrees",
  low_confidence: "Low AI confidence",
  sample: "Quality sample",
};

/** Why a submission went to a person, as a phrase ("the AI grader was not confident enough"). */
export const ESCALATION_WHY: Record<string, string> = {
  grader_error: "the grader could not grade it",
  disagreement: "the learner contested the grade",
  low_confidence: "the AI grader was not confident enough",
  sample: "picked for a quality check",
};

export const GRADERS: Record<string, string> = {
  answer_key: "the answer key",
  unit_tests: "unit tests",
  ai_model: "an AI model",
  offline_keywords: "the offline keyword grader",
  person: "a reviewer",
};

/** Which grader, from the finer `grader` field or (older events) `graded_by`. */
export function graderName(grader: unknown, gradedBy?: unknown): string {
  if (typeof grader === "string" && GRADERS[grader]) return GRADERS[grader];
  if (gradedBy === "human") return "a reviewer";
  if (gradedBy === "auto") return "the answer key";
  return "the automatic grader";
}

export const POLICIES: Record<string, string> = {
  injection: "an attempt to override the tutor's instructions",
  pii: "personal data",
  off_topic: "off-topic",
  length: "too long",
  answer_leak: "asking for the graded answer",
  blocked_term: "a blocked term",
  budget: "the token budget ran out",
  classifier: "flagged by the safety classifier",
  model_check: "flagged by the model check",
};

const SIGNALS: Record<string, string> = {
  exfiltration: "asked for the tutor's hidden instructions",
  data_exfiltration: "asked for other people's data or platform secrets",
  role_override: "tried to change the tutor's role or rules",
  delimiter: "faked a system or assistant message",
  hidden_instruction: "hid instructions for the AI in pasted text",
  encoded_payload: "sent encoded instructions",
  obfuscation: "disguised words with look-alike or invisible characters",
  authority_claim: "claimed special authority",
  answer_extraction: "asked for the graded answer",
  self_reference: "asked about the tutor itself",
  denied: "a topic this course does not cover",
  cooking: "cooking",
  sports: "sport",
  dating: "dating",
  entertainment: "entertainment",
  other_subjects: "another subject",
  creative_writing: "creative writing",
  personal_advice: "personal advice",
  everyday_life: "everyday life",
  travel_shopping: "travel or shopping",
};

/** The safety classifier's labels (app/domain/tutor/guardrails/classifier.py). */
const CLASSIFIER_LABELS: Record<string, string> = {
  benign: "harmless",
  override: "an attempt to override the tutor's rules",
  leak: "an attempt to extract the tutor's instructions",
  answer: "asking for the graded answer",
  data: "asking for other people's data",
};

const words = (code: string) => code.replace(/[_-]+/g, " ").trim();

function signal(hit: string): string {
  const [head, ...rest] = hit.split(":").map((p) => p.trim());
  const what = rest.join(":").replace(/@.*$/, "");
  if (head === "denied") return `a blocked phrase (“${what}”)`;
  const scored = /^([a-z_]+) (\d(?:\.\d+)?)$/.exec(hit);
  if (scored?.[1] && scored[2]) return `the safety classifier read it as ${CLASSIFIER_LABELS[scored[1]] ?? POLICIES[scored[1]] ?? words(scored[1])} (${Math.round(Number(scored[2]) * 100)}% sure)`;
  const label = head ? SIGNALS[head] : undefined;
  if (!label) return words(hit);
  return what ? `${label} (${words(what)})` : label;
}

/** "denied: cooking:recipe; course terms 0 of 5 words" → "cooking (recipe)"; "exfiltration:prompt_mention"
 * → "asked for the tutor's hidden instructions (prompt mention)". Unknown codes keep their text with
 * underscores turned to spaces, never dropped. */
export function humanSignals(reason: unknown): string {
  if (typeof reason !== "string" || !reason.trim()) return "";
  const parts: string[] = [];
  for (const raw of reason.split(";")) {
    const part = raw.trim().replace(/^denied:\s+/, "");
    if (!part || /^course terms /.test(part) || part === "meta-talk" || /^read with /.test(part)) continue;
    for (const hit of part.split(/,\s*/)) if (hit.trim()) parts.push(signal(hit.trim()));
  }
  return [...new Set(parts)].join("; ");
}

export function policyName(policy: unknown): string {
  return typeof policy === "string" ? (POLICIES[policy] ?? words(policy)) : "a guardrail";
}

/** "Mon 30 Nov, 05:40" for today and other days alike: a time on a feed needs its date. */
export function when(iso: string): string {
  const date = new Date(iso);
  return date.toLocaleString("en-GB", { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
