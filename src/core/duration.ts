// Durations as people type and read them. Three readings, three names:
//   - parseDuration / formatDuration: what users type and read for settings and flags ("1m30s");
//   - formatElapsed: how long something took ("1.2 s", "45 s", "2 min 5 s");
//   - formatLatency: a network timing, down to fractions of a millisecond ("0.4 ms", "120 ms", "1.3 s").

/** Seconds in `45`, `30s`, `2m`, `1m30s` (also `1h`, so an hour reads as too long, not as garbage). */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t);
  if (!m || t === '') return undefined;
  const [, h = '0', min = '0', s = '0'] = m;
  return Number(h) * 3600 + Number(min) * 60 + Number(s);
}

/** 90 → "1m30s", 600 → "10m", 3600 → "60m". */
export function formatDuration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (m === 0) return `${s}s`;
  return s === 0 ? `${m}m` : `${m}m${s}s`;
}

/** 1234 → "1.2 s", 45000 → "45 s", 125000 → "2 min 5 s". */
export function formatElapsed(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

/** 0.4 ms, 6.7 ms, 120 ms, 1.3 s, 12 s. */
export function formatLatency(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return formatElapsed(ms);
}
