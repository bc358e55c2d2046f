/** Two runs compared (placeholder until src/viewer/diff.ts lands). */
export function DiffPage({ a, b }: { a: string; b: string }) {
  return <p class="muted">{a} vs {b}</p>;
}
