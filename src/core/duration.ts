/**
 * Human durations for CLI options and config: `500ms`, `30s`, `2m`, `1h`, `1.5s`, and sums such as
 * `1m30s`. A bare number is refused (except `0`) because its unit would be a guess.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)/y;

/** Parses a duration into milliseconds; throws a RangeError with a readable message when malformed. */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === '0') return 0;
  if (input === '') throw new RangeError('empty duration (expected e.g. 500ms, 30s, 2m)');
  if (/^\d+(\.\d+)?$/.test(input)) {
    throw new RangeError(`duration "${text}" has no unit (expected e.g. ${input}s or ${input}ms)`);
  }
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < input.length) {
    const start = PART.lastIndex;
    const m = PART.exec(input);
    if (!m) {
      throw new RangeError(
        `invalid duration "${text}" at "${input.slice(start)}" (expected e.g. 500ms, 30s, 2m, 1h, 1m30s)`,
      );
    }
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  if (!Number.isFinite(total)) throw new RangeError(`duration "${text}" is too large`);
  return Math.round(total);
}

/** Compact rendering for progress lines and messages: `850ms`, `3s`, `2m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const totalSeconds = Math.floor(ms / 1000);
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes < 60) return seconds === 0 ? `${minutes}m` : `${minutes}m${String(seconds).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours}h` : `${hours}h${String(rest).padStart(2, '0')}m`;
}

/** Durations in config: a duration string as above, or a non-negative number of milliseconds. */
export function parseDurationMs(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new RangeError(`invalid duration: ${input}`);
    return input;
  }
  return parseDuration(input);
}
