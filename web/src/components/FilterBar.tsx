import { type FormEvent, useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';

export interface FilterField {
  name: string;
  label: string;
  placeholder?: string;
  /** A select with these options (the empty option means "any"). */
  options?: string[];
}

/** Reads the named filters from the URL's query string, so a filtered view can be shared and reloaded. */
export function useUrlFilters<K extends string>(
  names: readonly K[],
): [Partial<Record<K, string>>, (next: Partial<Record<K, string>>) => void] {
  const [params, setParams] = useSearchParams();
  const values: Partial<Record<K, string>> = {};
  for (const n of names) {
    const v = params.get(n);
    if (v) values[n] = v;
  }
  const set = (next: Partial<Record<K, string>>) => {
    const p = new URLSearchParams(params);
    for (const n of names) {
      const v = next[n]?.trim();
      if (v) p.set(n, v);
      else p.delete(n);
    }
    setParams(p, { replace: true });
  };
  return [values, set];
}

interface Props<K extends string> {
  fields: (FilterField & { name: K })[];
  values: Partial<Record<K, string>>;
  onChange: (next: Partial<Record<K, string>>) => void;
}

/** A row of filter inputs: selects apply at once, text fields on Enter or "Apply". */
export function FilterBar<K extends string>({ fields, values, onChange }: Props<K>) {
  const [draft, setDraft] = useState(values);
  const key = JSON.stringify(values);
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset the draft when the URL's filters change
  useEffect(() => setDraft(values), [key]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onChange(draft);
  };
  const active = fields.some((f) => values[f.name]);
  return (
    <form className="filters" onSubmit={submit} aria-label="Filters">
      {fields.map((f) => (
        <div key={f.name} className="field">
          <label htmlFor={`filter-${f.name}`}>{f.label}</label>
          {f.options ? (
            <select
              id={`filter-${f.name}`}
              name={f.name}
              value={draft[f.name] ?? ''}
              onChange={(e) => {
                const next = { ...draft, [f.name]: e.target.value };
                setDraft(next);
                onChange(next);
              }}
            >
              <option value="">any</option>
              {f.options.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          ) : (
            <input
              id={`filter-${f.name}`}
              name={f.name}
              type="search"
              placeholder={f.placeholder ?? 'any'}
              value={draft[f.name] ?? ''}
              onChange={(e) => setDraft({ ...draft, [f.name]: e.target.value })}
            />
          )}
        </div>
      ))}
      <div className="filter-actions">
        <button type="submit" className="btn btn-primary">
          Apply
        </button>
        {active && (
          <button type="button" className="btn btn-ghost" onClick={() => onChange({})}>
            Clear
          </button>
        )}
      </div>
    </form>
  );
}
