/**
 * The "ML model": a churn score per customer row of the uploaded CSV. It throws on
 * a malformed row, which fails the attempt (Gaffer retries it, then dead-letters it).
 */
export const INPUT_COLUMNS = ['customer_id', 'tenure_months', 'monthly_charges', 'support_tickets'];

export function predictCsv(text: string): { rows: number; output: string } {
  const lines = text.trim().split(/\r?\n/);
  const header = lines[0]?.split(',').map((s) => s.trim());
  if (!header || INPUT_COLUMNS.some((c, i) => header[i] !== c)) {
    throw new Error(`the CSV header must be ${INPUT_COLUMNS.join(',')}`);
  }
  const out = ['customer_id,churn_probability,risk'];
  lines.slice(1).forEach((line, i) => {
    const [id, ...nums] = line.split(',').map((s) => s.trim());
    const [tenure, charges, tickets] = nums.map(Number);
    if (!id || [tenure, charges, tickets].some((n) => n === undefined || !Number.isFinite(n))) {
      throw new Error(`row ${i + 2} is not valid: ${JSON.stringify(line)}`);
    }
    const z = -1.5 - 0.05 * tenure! + 0.02 * charges! + 0.4 * tickets!;
    const p = 1 / (1 + Math.exp(-z));
    out.push(`${id},${p.toFixed(4)},${p > 0.6 ? 'high' : p > 0.3 ? 'medium' : 'low'}`);
  });
  return { rows: lines.length - 1, output: `${out.join('\n')}\n` };
}

/** A deterministic sample upload of `n` customers. */
export function sampleCsv(n: number): string {
  const rows = Array.from(
    { length: n },
    (_, i) => `c${1000 + i},${(i * 7) % 60},${40 + ((i * 13) % 80)},${i % 5}`,
  );
  return `${INPUT_COLUMNS.join(',')}\n${rows.join('\n')}\n`;
}
