/**
 * Durations as people write them ("30s", "5m", "1h30m", "250ms", "1.5s") or as plain integers of
 * milliseconds, in both directions. Pure functions, no I/O.
 */

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** One `<number><unit>` part; `ms` is tried before `m` and `s`. */
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)/y;

/**
 * Parses a duration to whole milliseconds (rounded): `"30s"` → 30000, `"1h30m"` → 5400000, `"250"` → 250,
 * `250` → 250. Returns undefined for anything else (negative, empty, unknown unit, non-finite).
 */
export function parseDurationMs(input: string | number): number | undefined {
  if (typeof input === "number") return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  const text = input.trim();
  if (/^\d+$/.test(text)) {
    const ms = Number(text);
    return Number.isSafeInteger(ms) ? ms : undefined;
  }
  if (text === "") return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ""] ?? Number.NaN);
  }
  const ms = Math.round(total);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Formats milliseconds the way `parseDurationMs` reads them: 5400000 → "1h30m", 250 → "250ms", 0 → "0s". */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  if (ms === 0) return "0s";
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}
