import { useState } from "react";

import { hue, imageUrl, initials, type ImageRef } from "../lib/credentials";

/** A credential's badge: its own image, or (none, or it fails to load) a badge drawn from the achievement's
 * name. Decorative: the achievement's name is always written next to it. */
export function BadgeImage({ image, name, size = 96 }: { image: ImageRef; name: string; size?: number }) {
  const url = imageUrl(image);
  const [failed, setFailed] = useState(false);
  if (url && !failed) {
    return <img className="badge-image" src={url} alt="" width={size} height={size} onError={() => setFailed(true)} />;
  }
  return <GeneratedBadge name={name} size={size} />;
}

export function GeneratedBadge({ name, size = 96 }: { name: string; size?: number }) {
  const h = hue(name);
  return (
    <svg
      className="badge-image generated"
      data-testid="generated-badge"
      viewBox="0 0 100 100"
      width={size}
      height={size}
      aria-hidden="true"
      focusable="false"
    >
      <path d="M30 70 L22 98 L38 90 L46 100 L50 72 Z" fill={`hsl(${h} 45% 40%)`} />
      <path d="M70 70 L78 98 L62 90 L54 100 L50 72 Z" fill={`hsl(${h} 45% 40%)`} />
      <polygon points="50,4 88,26 88,70 50,92 12,70 12,26" fill={`hsl(${h} 55% 30%)`} />
      <polygon points="50,12 81,30 81,66 50,84 19,66 19,30" fill="none" stroke="#fff" strokeOpacity="0.6" strokeWidth="2" />
      <text x="50" y="57" textAnchor="middle" fontSize="26" fontWeight="700" fill="#fff" fontFamily="system-ui, sans-serif">
        {initials(name)}
      </text>
    </svg>
  );
}
