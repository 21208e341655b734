import type { Json } from '../api/types';

/** Pretty-printed JSON, or a muted note when there is none. */
export function JsonView({ value, empty = 'none' }: { value: Json | null | undefined; empty?: string }) {
  if (value === null || value === undefined) return <p className="muted">{empty}</p>;
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}
