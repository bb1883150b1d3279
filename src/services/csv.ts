/** RFC 4180 CSV: CRLF line ends; a field with a comma, quote, CR or LF is quoted, quotes doubled. */

export type CsvValue = string | number | null | undefined;

/**
 * Why the apostrophe: spreadsheets run a cell that starts with = + - @ (or a tab/CR before one)
 * as a formula, and model or domain names come from operators. Numbers are written as they are.
 */
function field(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return String(v);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return [header, ...rows].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}

/** True when the client asked for CSV (`Accept: text/csv`) rather than JSON. */
export function wantsCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept
    .split(',')
    .map((p) => p.split(';')[0].trim().toLowerCase())
    .includes('text/csv');
}
