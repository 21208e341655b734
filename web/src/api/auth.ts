/** Auth state: whether the server asked for a token (a 401), and a way to log in and out. */
import { useSyncExternalStore } from 'react';
import { ApiError, getToken, request, setToken } from './client';

let needsLogin = false;
const listeners = new Set<() => void>();

function emit(): void {
  for (const l of listeners) l();
}

/** Called by the query cache on every error: a 401 shows the login form. */
export function noteError(err: unknown): void {
  if (err instanceof ApiError && err.status === 401 && !needsLogin) {
    needsLogin = true;
    emit();
  }
}

export function useNeedsLogin(): boolean {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => needsLogin,
  );
}

/** Checks the token against the API, then keeps it for this browser tab. */
export async function login(token: string): Promise<void> {
  await request('GET', '/api/v1/stats', { token });
  setToken(token);
  needsLogin = false;
  emit();
}

export function logout(): void {
  setToken(null);
  needsLogin = true;
  emit();
}

export function hasToken(): boolean {
  return getToken() !== null;
}
