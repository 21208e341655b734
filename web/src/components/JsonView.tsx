import { useState } from 'react';
import type { Json } from '../api/types';

/** Characters shown before a value is cut (the rest behind "Show raw"). */
export const JSON_VIEW_MAX_CHARS = 20_000;
/** Deeper values are shown compact: indenting thousands of levels would make a string of megabytes. */
const PRETTY_MAX_DEPTH = 20;

function depthOver(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

function render(value: Json): { text: string; note: string | null } {
  try {
    if (depthOver(value, PRETTY_MAX_DEPTH))
      return {
        text: JSON.stringify(value),
        note: `nested deeper than ${PRETTY_MAX_DEPTH} levels: shown compact`,
      };
    return { text: JSON.stringify(value, null, 2), note: null };
  } catch (err) {
    return { text: '', note: `cannot be shown here (${(err as Error).message})` };
  }
}

/**
 * Pretty-printed JSON, or a muted note when there is none. A value too big or too deep for the page
 * is shown compact and cut at JSON_VIEW_MAX_CHARS, with "Show raw" for the whole of it, so a huge or
 * deeply nested payload never stalls or blanks the page.
 */
export function JsonView({ value, empty = 'none' }: { value: Json | null | undefined; empty?: string }) {
  const [raw, setRaw] = useState(false);
  if (value === null || value === undefined) return <p className="muted">{empty}</p>;
  const { text, note } = render(value);
  const cut = text.length > JSON_VIEW_MAX_CHARS;
  const shown = cut && !raw ? `${text.slice(0, JSON_VIEW_MAX_CHARS)}…` : text;
  return (
    <div className="json-view" data-testid="json-view">
      {(note || cut) && (
        <p className="muted json-note">
          {[
            note,
            cut && !raw
              ? `${text.length.toLocaleString()} characters, the first ${JSON_VIEW_MAX_CHARS.toLocaleString()} shown`
              : null,
          ]
            .filter(Boolean)
            .join('; ')}
          {cut && (
            <>
              {' '}
              <button type="button" className="btn btn-ghost btn-small" onClick={() => setRaw(!raw)}>
                {raw ? 'Show less' : 'Show raw'}
              </button>
            </>
          )}
        </p>
      )}
      {text && <pre className={raw ? 'json json-raw' : 'json'}>{shown}</pre>}
    </div>
  );
}
