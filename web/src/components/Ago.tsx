import { useEffect, useState } from 'react';
import { formatAgo, formatTime } from './format';

let now = Date.now();
const subscribers = new Set<(n: number) => void>();
let timer: ReturnType<typeof setInterval> | null = null;

/** The current time, ticking once a second for every subscriber at once. */
export function useNow(): number {
  const [value, setValue] = useState(now);
  useEffect(() => {
    subscribers.add(setValue);
    if (!timer) {
      timer = setInterval(() => {
        now = Date.now();
        for (const s of subscribers) s(now);
      }, 1000);
    }
    return () => {
      subscribers.delete(setValue);
      if (subscribers.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    };
  }, []);
  return value;
}

/** "12s ago", with the exact time on hover. */
export function Ago({ at }: { at: string | null | undefined }) {
  const n = useNow();
  if (!at) return <span className="muted">—</span>;
  return (
    <time dateTime={at} title={formatTime(at)}>
      {formatAgo(at, n)}
    </time>
  );
}
