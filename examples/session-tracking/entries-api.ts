/**
 * Seed 001's three calls, over HTTP, against Gaffer. The seed's service had
 * `GET /api/v1/sessions/{short_id}`, `GET /api/v1/sessions/task/{task_id}` and
 * `DELETE /api/v1/sessions/task/{task_id}`; on Gaffer only the word `sessions`
 * becomes `entries` (Gaffer's sessions are the groups of tasks), and the fields
 * are the same.
 */
export interface Entry {
  short_id: string;
  task_type: string;
  task_id: string;
  user_id: string | null;
  status: 'active' | 'completed' | 'failed' | 'cancelled';
  created_at: string;
  updated_at: string;
}

export interface EntriesResponse {
  short_id: string;
  sessions: Entry[];
  total_sessions: number;
  timestamp: string;
}

export class EntriesApi {
  constructor(private readonly url: string) {}

  /** GET /api/v1/entries/:shortId — the open entries of a short_id. */
  async list(shortId: string): Promise<EntriesResponse> {
    const res = await fetch(`${this.url}/api/v1/entries/${encodeURIComponent(shortId)}`);
    if (!res.ok) throw new Error(`GET entries of ${shortId}: HTTP ${res.status}`);
    return (await res.json()) as EntriesResponse;
  }

  /** GET /api/v1/entries/task/:taskId — the entry of one task; 404 when it has none open. */
  async get(taskId: string): Promise<{ status: number; body: Entry | { detail?: string } }> {
    const res = await fetch(`${this.url}/api/v1/entries/task/${encodeURIComponent(taskId)}`);
    return { status: res.status, body: (await res.json()) as Entry };
  }

  /** DELETE /api/v1/entries/task/:taskId — remove the entry of a task (the task itself stays). */
  async remove(taskId: string): Promise<number> {
    const res = await fetch(`${this.url}/api/v1/entries/task/${encodeURIComponent(taskId)}`, {
      method: 'DELETE',
      // A body-less write: the header tells a server with auth off it comes from a program, not a page.
      headers: { 'x-gaffer-request': '1' },
    });
    return res.status;
  }
}
