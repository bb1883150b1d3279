/** UTC calendar windows for per-key credit limits, from the injected clock's time. */
export function dayWindow(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function monthWindow(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

export function minuteWindow(ms: number): number {
  return Math.floor(ms / 60_000);
}
