/** Kind, plain-language explanations of why the tutor stopped, with what to do next. */

const WHAT_TO_DO: Record<string, string> = {
  budget: "You've used the tutor allowance for now.",
  injection:
    "That message read like instructions to the tutor itself, so it wasn't sent. Ask about the course material in your own words.",
  pii: "Your message seemed to contain personal details (like an email, phone number or ID). Remove them and try again.",
  pii_output: "The reply started to include personal details, so it was stopped to protect privacy. Try rephrasing.",
  off_topic: "That seems outside this course. Ask about the lesson you're studying and the tutor will gladly help.",
  length: "That message is too long for the tutor. Shorten it or split it into smaller questions.",
  answer_leak:
    "The tutor won't hand out answers to graded work. It can help you reason it through: ask about the idea or your approach.",
  blocked_term: "The reply touched on something this course's policy doesn't allow, so it was stopped.",
};

export function explainBlocked(policy: string, reason: string, resetsAt?: string | null): string {
  const base = WHAT_TO_DO[policy] ?? "The tutor couldn't answer that message.";
  if (policy === "budget" && resetsAt) {
    const when = new Date(resetsAt);
    const text = Number.isNaN(when.getTime()) ? resetsAt : when.toLocaleString();
    return `${base} It resets ${text}. ${reason}`.trim();
  }
  return reason && !base.includes(reason) ? `${base} (${reason})` : base;
}

const ERROR_WORDS: Record<string, string> = {
  rate_limited: "You're sending messages quickly. Wait a few seconds and try again.",
  busy: "The tutor is still answering your previous message.",
  overloaded: "The AI model is busy right now. Try again in a moment.",
  timeout: "The tutor took too long to answer. Try again.",
  unavailable: "The tutor is unavailable right now. Try again in a moment.",
  invalid_message: "That message couldn't be sent.",
};

export function explainError(code: string, detail: string): string {
  const words = ERROR_WORDS[code] ?? "Something went wrong with the tutor.";
  return detail && detail !== words ? `${words} ${detail}` : words;
}
